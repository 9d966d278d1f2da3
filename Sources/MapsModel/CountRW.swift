// The seed's read-write page count: how many read-write pages a maps text
// shows inside an address range. This is the number the seed experiment
// prints per snapshot, and a torn snapshot shows up as a count the process
// never had (0, 3 or 4 when the truth is always 1 or 2).

/// The text formats `count-rw` reads.
public enum MapsFormat: String, Sendable, CaseIterable {
    /// Linux `/proc/PID/maps`.
    case linux
    /// FreeBSD `procstat vm`.
    case freebsd

    /// Parses `text` in this format.
    public func parse(_ text: [UInt8]) throws(MapsParseError) -> MapsText {
        switch self {
        case .linux: try MapsParser.parseLinux(text)
        case .freebsd: try MapsParser.parseFreeBSD(text)
        }
    }
}

/// The number of read-write pages of the mappings that lie wholly inside
/// `range`: `start >= range.lowerBound` and `end <= range.upperBound`. A
/// mapping that straddles either bound does not count at all. "Read-write"
/// means readable and writable, whatever the execute and shared bits say
/// (the seed's `$3 ~ /^rw/`).
///
/// Each mapping contributes `length / pageSize` pages (mapping lengths are
/// page multiples in real maps). Real maps cannot overflow the total (their
/// mappings do not overlap); a forged text that repeats a huge mapping can,
/// and then the count saturates at `UInt64.max` (`countReadWritePages(inText:)`
/// reports it as an error instead).
///
/// The seed's Linux script tested `end < END`, so a read-write mapping
/// ending exactly at the end of the range was missed; this counts it.
public func countReadWritePages(in maps: MapsText, range: Range<UInt64>, pageSize: UInt64) -> UInt64 {
    let (pages, overflowingLine) = readWritePageTotal(in: maps, range: range, pageSize: pageSize)
    return overflowingLine == nil ? pages : .max
}

/// The read-write page total, and the index of the line that made it
/// overflow 64 bits (nil if it did not).
private func readWritePageTotal(
    in maps: MapsText, range: Range<UInt64>, pageSize: UInt64
) -> (pages: UInt64, overflowingLine: Int?) {
    precondition(pageSize > 0, "page size must be positive")
    var pages: UInt64 = 0
    for (index, line) in maps.lines.enumerated()
    where line.permissions.read && line.permissions.write
        && line.start >= range.lowerBound && line.end <= range.upperBound {
        let (sum, overflow) = pages.addingReportingOverflow(line.length / pageSize)
        if overflow { return (pages, index) }
        pages = sum
    }
    return (pages, nil)
}

/// Parses `text` as `format` and counts its read-write pages inside `range`.
/// A total over 64 bits (only a forged text has one) is an error naming the
/// line that overflowed it.
public func countReadWritePages(
    inText text: [UInt8], format: MapsFormat, range: Range<UInt64>, pageSize: UInt64
) throws(MapsParseError) -> UInt64 {
    var counter = ReadWritePageCounter(format: format, range: range, pageSize: pageSize)
    var failure: MapsParseError?
    text.withUnsafeBytes { bytes in
        do throws(MapsParseError) { try counter.add(bytes) } catch { failure = error }
    }
    if let failure { throw failure }
    return try counter.finish()
}

/// Counts read-write pages (as `countReadWritePages`) over a maps text fed
/// in pieces of any size, in bounded memory: it keeps at most one line that
/// is not complete yet, so an endless or huge input (`/dev/zero`, a pipe,
/// a multi-gigabyte file) costs a fixed amount of memory. A line longer than
/// `maxLineLength` bytes is an error (no real maps or procstat line comes
/// near it: a path is at most 4096 bytes).
public struct ReadWritePageCounter {
    public static let maxLineLength = 1 << 16

    public let format: MapsFormat
    public let range: Range<UInt64>
    public let pageSize: UInt64
    /// The total so far.
    public private(set) var pages: UInt64 = 0
    /// Complete lines counted so far.
    public private(set) var lines = 0
    /// The bytes of the line not yet ended, and complete lines waiting to
    /// be parsed as one batch.
    private var pending: [UInt8] = []

    public init(format: MapsFormat, range: Range<UInt64>, pageSize: UInt64) {
        precondition(pageSize > 0, "page size must be positive")
        self.format = format
        self.range = range
        self.pageSize = pageSize
        pending.reserveCapacity(2 * Self.maxLineLength)
    }

    /// Adds the next bytes of the text.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) throws(MapsParseError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            // Take at most what fills the batch, so that `pending` stays bounded.
            let room = max(2 * Self.maxLineLength - pending.count, 1)
            let piece = rest.prefix(room)
            rest = rest.dropFirst(piece.count)
            pending.append(contentsOf: piece)
            // Only the new bytes can hold a newline: what was pending had none.
            guard let newline = piece.lastIndex(of: UInt8(ascii: "\n")) else {
                try checkLineLength(pending.count)
                continue
            }
            let lastNewline = pending.count - piece.count + (newline - piece.startIndex)
            try count(pending[...lastNewline])
            pending.removeSubrange(...lastNewline)
            try checkLineLength(pending.count)
        }
    }

    /// Counts what is left (a last line without its newline is accepted)
    /// and returns the total.
    public mutating func finish() throws(MapsParseError) -> UInt64 {
        if !pending.isEmpty {
            try count(pending[...])
            pending.removeAll()
        }
        return pages
    }

    private func checkLineLength(_ length: Int) throws(MapsParseError) {
        guard length > Self.maxLineLength else { return }
        throw MapsParseError(
            line: lines + 1, column: 1,
            reason: "the line is longer than \(Self.maxLineLength) bytes (not a maps text)")
    }

    /// Parses complete lines and adds their pages.
    private mutating func count(_ text: ArraySlice<UInt8>) throws(MapsParseError) {
        let batch = Array(text)
        let maps: MapsText
        do {
            maps = try format.parse(batch)
        } catch {
            throw MapsParseError(line: lines + error.line, column: error.column, reason: error.reason)
        }
        let (total, overflowingLine) = readWritePageTotal(in: maps, range: range, pageSize: pageSize)
        let (sum, overflow) = pages.addingReportingOverflow(total)
        if let index = overflowingLine ?? (overflow ? maps.lines.indices.last : nil) {
            // The line that made the total overflow: the first at which the running sum does.
            var running = pages
            var culprit = index
            for (position, line) in maps.lines.enumerated()
            where line.permissions.read && line.permissions.write
                && line.start >= range.lowerBound && line.end <= range.upperBound {
                let (next, over) = running.addingReportingOverflow(line.length / pageSize)
                if over { culprit = position; break }
                running = next
            }
            let offset = maps.byteOffsets[culprit]
            let lineNumber = lines + 1 + batch[..<offset].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            throw MapsParseError(
                line: lineNumber, column: 1,
                reason: "the read-write page count overflows 64 bits here (the mappings overlap: not a real maps text)")
        }
        pages = sum
        lines += batch.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
}

/// An address as the seed's scripts take it: hex digits, with or without a
/// `0x`/`0X` prefix (`0x7fa44f494000`, `7fa44f494000`). Nil when it is not
/// 1 to 16 hex digits.
public func parseHexAddress(_ text: some StringProtocol) -> UInt64? {
    var digits = Substring(text)
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
    guard !digits.isEmpty, digits.utf8.count <= 16 else { return nil }
    var value: UInt64 = 0
    for byte in digits.utf8 {
        guard let digit = hexDigit(byte) else { return nil }
        value = value << 4 | UInt64(digit)
    }
    return value
}
