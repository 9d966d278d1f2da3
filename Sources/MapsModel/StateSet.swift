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
