import MapsModel

/// The kernel's structural guarantee for a maps text, checked line by line:
/// "the mapped addresses never go backwards, which implies no two regions
/// will ever overlap" (Documentation/filesystems/proc.rst). This is the one
/// implementation of it: `mapsrace check` runs it on any text and `analyze`
/// runs it on every recorded snapshot (its `no_overlap`).
///
/// Fed the lines in file order, it keeps only the line that reached highest
/// so far, so it runs in constant memory. A line that starts below that
/// line's end breaks the guarantee: it overlaps an earlier line or lies
/// below it. Every such line is reported, each against the line that
/// reached highest before it.
public struct AddressOrder: Sendable {
    /// How a line breaks the order, seen against the earlier line that
    /// reached highest.
    public enum Shape: String, Sendable, Equatable, Encodable {
        /// The later line covers the earlier one and extends past its end,
        /// most often from the same start: the shape a merge between two
        /// reads produces (the earlier mapping was printed, merged with its
        /// neighbour, and the next read resumed inside the merged mapping).
        case mergeBetweenReads = "merge_between_reads"
        /// The two ranges intersect in any other way (the same range
        /// included).
        case overlap
        /// The later line lies wholly below the earlier line's start.
        case backwards
    }

    /// One line that breaks the order.
    public struct Break: Sendable, Equatable {
        /// The line's 1-based number, as given to `add`.
        public var line: Int
        public var range: Range<UInt64>
        /// The earlier line that reached highest, and its number.
        public var earlierLine: Int
        public var earlierRange: Range<UInt64>
        public var shape: Shape
    }

    /// The line that reached highest so far (its end is the highest end), and its number.
    public private(set) var highest: (range: Range<UInt64>, line: Int)?

    public init() {}

    /// Adds the next line (`start < end`); the break it makes, if any.
    public mutating func add(start: UInt64, end: UInt64, line: Int) -> Break? {
        guard let earlier = highest else {
            highest = (start..<end, line)
            return nil
        }
        if start >= earlier.range.upperBound {
            highest = (start..<end, line)
            return nil
        }
        let shape: Shape
        if end <= earlier.range.lowerBound {
            shape = .backwards
        } else if start <= earlier.range.lowerBound && end > earlier.range.upperBound {
            shape = .mergeBetweenReads
        } else {
            shape = .overlap
        }
        let found = Break(
            line: line, range: start..<end, earlierLine: earlier.line, earlierRange: earlier.range, shape: shape)
        if end > earlier.range.upperBound { highest = (start..<end, line) }
        return found
    }

    /// Whether `lines` (in file order) keep the guarantee: every line starts
    /// at or above the end of every line before it.
    public static func holds(for lines: [MapsLine]) -> Bool {
        var order = AddressOrder()
        for (index, line) in lines.enumerated() where order.add(start: line.start, end: line.end, line: index + 1) != nil {
            return false
        }
        return true
    }

    /// The same for lines given as columns: line i spans `starts[i]..<ends[i]`.
    public static func holds(starts: [UInt64], ends: [UInt64]) -> Bool {
        var order = AddressOrder()
        for index in starts.indices where order.add(start: starts[index], end: ends[index], line: index + 1) != nil {
            return false
        }
        return true
    }
}
