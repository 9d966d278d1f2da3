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
    let maps = try format.parse(text)
    let (pages, overflowingLine) = readWritePageTotal(in: maps, range: range, pageSize: pageSize)
    guard let index = overflowingLine else { return pages }
    let offset = maps.byteOffsets[index]
    let lineNumber = 1 + text[..<offset].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    throw MapsParseError(
        line: lineNumber, column: 1,
        reason: "the read-write page count overflows 64 bits here (the mappings overlap: not a real maps text)")
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
