import MapsTrace

/// The checks real tools make of the maps text they read, on raw bytes:
/// nothing allocated, so a reader may apply them between two reads.
public enum MapsTextRules {
    /// Bytes after the last newline among the `count` bytes that end at
    /// `end` (all `count` when none is a newline): the partial line a line
    /// reader keeps.
    public static func partialLineLength(endingAt end: UnsafeMutableRawPointer, within count: Int) -> Int {
        var kept = 0
        while kept < count {
            if end.load(fromByteOffset: -(kept + 1), as: UInt8.self) == UInt8(ascii: "\n") { return kept }
            kept += 1
        }
        return count
    }

    /// Crashpad's and cpptrace's rule: some line starts below the end of
    /// the line before it (a mapping reported twice, overlapping, or out of
    /// order).
    public static func hasOverlap(_ text: UnsafeRawBufferPointer) -> Bool {
        var previousEnd: UInt64?
        var found = false
        forEachRange(text) { start, end in
            if let previousEnd, start < previousEnd { found = true }
            previousEnd = end
            return !found
        }
        return found
    }

    /// DynamoRIO's rule: lines whose start is not above the start of the
    /// last line kept are skipped; how many.
    public static func backwardsLines(in text: UnsafeRawBufferPointer) -> Int {
        var previousStart: UInt64 = 0
        var skipped = 0
        forEachRange(text) { start, _ in
            if start <= previousStart { skipped += 1 } else { previousStart = start }
            return true
        }
        return skipped
    }

    /// What an `overlapRetry` tool's check does with attempt `attempt`
    /// (from 1) of `attempts` that read `text` to the end: `accepted`, or
    /// `validationRejected` (with `gaveUp` on the last attempt).
    public static func overlapCheck(_ text: UnsafeRawBufferPointer, attempt: Int, of attempts: Int) -> SnapshotFlags {
        guard hasOverlap(text) else { return .accepted }
        return attempt >= attempts ? [.validationRejected, .gaveUp] : .validationRejected
    }

    /// What DynamoRIO's skip rule does with `text`: `linesSkipped` when it
    /// drops a line, nothing otherwise.
    public static func skipCheck(_ text: UnsafeRawBufferPointer) -> SnapshotFlags {
        backwardsLines(in: text) > 0 ? .linesSkipped : []
    }

    /// Calls `body` with the `start-end` of every line that begins with
    /// one (others are passed over), while it returns true.
    static func forEachRange(_ text: UnsafeRawBufferPointer, _ body: (UInt64, UInt64) -> Bool) {
        var index = 0
        let count = text.count
        while index < count {
            var cursor = index
            let start = hexNumber(text, &cursor)
            var end: UInt64?
            if start != nil, cursor < count, text[cursor] == UInt8(ascii: "-") {
                cursor += 1
                end = hexNumber(text, &cursor)
            }
            if let start, let end, !body(start, end) { return }
            while cursor < count && text[cursor] != UInt8(ascii: "\n") { cursor += 1 }
            index = cursor + 1
        }
    }

    /// The hexadecimal number at `cursor` (moved past it), nil if none.
    private static func hexNumber(_ text: UnsafeRawBufferPointer, _ cursor: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        while cursor < text.count, digits < 16 {
            let byte = text[cursor]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return digits > 0 ? value : nil
            }
            value = value << 4 | UInt64(digit)
            digits += 1
            cursor += 1
        }
        return digits > 0 ? value : nil
    }
}
