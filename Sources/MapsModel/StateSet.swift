/// A set of states (state j = the address space after the first j
/// mutations), kept as sorted, disjoint, non-adjacent closed intervals.
public struct StateSet: Hashable, Sendable, CustomStringConvertible {
    public private(set) var intervals: [ClosedRange<Int>]

    public init() { intervals = [] }

    public init(_ interval: ClosedRange<Int>) { intervals = [interval] }

    /// Builds a set from intervals already sorted and disjoint; adjacent ones are joined.
    public init(sortedIntervals: [ClosedRange<Int>]) {
        intervals = []
        intervals.reserveCapacity(sortedIntervals.count)
        for interval in sortedIntervals { append(interval) }
    }

    /// Appends an interval that lies after every interval already in the set.
    public mutating func append(_ interval: ClosedRange<Int>) {
        if let last = intervals.last {
            precondition(interval.lowerBound > last.upperBound, "StateSet.append out of order")
            if interval.lowerBound == last.upperBound + 1 {
                intervals[intervals.count - 1] = last.lowerBound...interval.upperBound
                return
            }
        }
        intervals.append(interval)
    }

    public var isEmpty: Bool { intervals.isEmpty }
    public var min: Int? { intervals.first?.lowerBound }
    public var max: Int? { intervals.last?.upperBound }

    public var count: Int { intervals.reduce(0) { $0 + $1.count } }

    public func contains(_ state: Int) -> Bool {
        var low = 0
        var high = intervals.count
        while low < high {
            let middle = (low + high) / 2
            if intervals[middle].upperBound < state { low = middle + 1 } else { high = middle }
        }
        return low < intervals.count && intervals[low].contains(state)
    }

    public func intersection(_ other: StateSet) -> StateSet {
        var result = StateSet()
        var i = 0
        var j = 0
        while i < intervals.count && j < other.intervals.count {
            let a = intervals[i]
            let b = other.intervals[j]
            let low = Swift.max(a.lowerBound, b.lowerBound)
            let high = Swift.min(a.upperBound, b.upperBound)
            if low <= high { result.intervals.append(low...high) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return result
    }

    /// `{a..b, c}` style, for reports.
    public var description: String {
        if intervals.isEmpty { return "{}" }
        return "{" + intervals.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)..\($0.upperBound)" }
            .joined(separator: ", ") + "}"
    }
}

/// One closed interval of states, `low...high`, in the flat form the
/// analysis keeps many sets in: a set is a run of sorted, disjoint,
/// non-adjacent intervals inside one `[StateInterval]` buffer.
public struct StateInterval: Hashable, Sendable {
    public var low: Int32
    public var high: Int32

    @inline(__always)
    public init(low: Int32, high: Int32) {
        self.low = low
        self.high = high
    }

    @inline(__always)
    public init(_ range: ClosedRange<Int>) {
        low = Int32(truncatingIfNeeded: range.lowerBound)
        high = Int32(truncatingIfNeeded: range.upperBound)
    }

    public var range: ClosedRange<Int> { Int(low)...Int(high) }
}

/// Set operations on runs of `StateInterval` inside flat buffers, without
/// allocating per set.
public enum StateIntervals {
    /// Appends `a[aRun] ∩ b[bRun]` to `output`. Both runs must be sorted,
    /// disjoint and non-adjacent; so is the result.
    @inline(__always)
    public static func intersect(
        _ a: UnsafeBufferPointer<StateInterval>, _ b: UnsafeBufferPointer<StateInterval>,
        into output: inout [StateInterval]
    ) {
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            let x = a[i]
            let y = b[j]
            let low = Swift.max(x.low, y.low)
            let high = Swift.min(x.high, y.high)
            if low <= high { output.append(StateInterval(low: low, high: high)) }
            if x.high < y.high { i += 1 } else { j += 1 }
        }
    }

    /// Whether the run meets `low...high`.
    @inline(__always)
    public static func meets(_ run: UnsafeBufferPointer<StateInterval>, _ low: Int32, _ high: Int32) -> Bool {
        for interval in run where interval.high >= low {
            return interval.low <= high
        }
        return false
    }

    /// The run as a `StateSet`.
    public static func set(_ run: UnsafeBufferPointer<StateInterval>) -> StateSet {
        StateSet(sortedIntervals: run.map(\.range))
    }
}
