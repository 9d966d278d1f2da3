/// The lines of a maps text as columns: what the analysis reads of every
/// line (addresses, permissions, whether replay can judge it, where it
/// starts), without a `MapsLine` per line. The full line, path and all, is
/// parsed again from the text when it is needed (`MapsParser.line(in:at:)`),
/// which the analysis does only for the few lines it reports.
public struct MapsLineTable: Sendable, Equatable {
    /// One line: where it is, what it is, where it starts in the text.
    public struct Row: Sendable, Equatable {
        public var start: UInt64
        public var end: UInt64
        /// Byte offset of the line's first byte in the text.
        public var byteOffset: Int
        /// `Flags` bits.
        public var flags: UInt8
    }

    public private(set) var rows: [Row] = []

    /// A line's permission bits, and whether it is plain anonymous memory.
    public enum Flags {
        public static let read: UInt8 = 1
        public static let write: UInt8 = 2
        public static let execute: UInt8 = 4
        public static let shared: UInt8 = 8
        /// Offset, device and inode 0 and no path: a line replay can judge.
        public static let anonymous: UInt8 = 16
    }

    public init() {}

    public init(_ text: MapsText) {
        reserveCapacity(text.lines.count)
        for (line, offset) in zip(text.lines, text.byteOffsets) { append(line, at: offset) }
    }

    public var count: Int { rows.count }

    @inline(__always) public func start(_ index: Int) -> UInt64 { rows[index].start }
    @inline(__always) public func end(_ index: Int) -> UInt64 { rows[index].end }
    @inline(__always) public func flags(_ index: Int) -> UInt8 { rows[index].flags }
    @inline(__always) public func byteOffset(_ index: Int) -> Int { rows[index].byteOffset }
    /// Every line's byte offset, in order.
    public var byteOffsets: [Int] { rows.map(\.byteOffset) }

    mutating func reserveCapacity(_ count: Int) {
        rows.reserveCapacity(count)
    }

    @inline(__always)
    mutating func append(start: UInt64, end: UInt64, flags: UInt8, at offset: Int) {
        rows.append(Row(start: start, end: end, byteOffset: offset, flags: flags))
    }

    mutating func append(_ line: MapsLine, at offset: Int) {
        let permissions = line.permissions
        var bits: UInt8 = UInt8(truncatingIfNeeded: permissions.prot) | (permissions.shared ? Flags.shared : 0)
        if line.offset == 0 && line.deviceMajor == 0 && line.deviceMinor == 0 && line.inode == 0 && line.path.isEmpty {
            bits |= Flags.anonymous
        }
        rows.append(Row(start: line.start, end: line.end, byteOffset: offset, flags: bits))
    }

    @inline(__always)
    public func permissions(_ index: Int) -> Permissions {
        let bits = rows[index].flags
        return Permissions(
            read: bits & Flags.read != 0, write: bits & Flags.write != 0, execute: bits & Flags.execute != 0,
            shared: bits & Flags.shared != 0)
    }

    @inline(__always)
    public func isAnonymous(_ index: Int) -> Bool { rows[index].flags & Flags.anonymous != 0 }
}

extension MapsParser {
    /// `parseLinux` into columns: the same grammar, the same errors.
    public static func parseLinuxTable(_ text: UnsafeRawBufferPointer) throws(MapsParseError) -> MapsLineTable {
        var table = MapsLineTable()
        table.reserveCapacity(text.count / 48 + 1)
        var position = 0
        var lineNumber = 1
        while position < text.count {
            if let line = anonymousLine(text, at: position) {
                table.append(start: line.start, end: line.end, flags: line.flags, at: position)
                position = line.next
            } else {
                var cursor = LineCursor(text: text, position: position, lineStart: position, lineNumber: lineNumber)
                table.append(try cursor.parseLinuxLine(), at: position)
                position = cursor.position
            }
            lineNumber += 1
        }
        return table
    }

    /// The common line, read in one go: `start-end perm 00000000 00:00 0`,
    /// optional spaces, then the newline or the end of the text. nil for
    /// anything else, which the full parser then reads (and reports if
    /// wrong): what this accepts, it reads exactly as `parseLinuxLine` would.
    @inline(__always)
    static func anonymousLine(
        _ text: UnsafeRawBufferPointer, at lineStart: Int
    ) -> (start: UInt64, end: UInt64, flags: UInt8, next: Int)? {
        var position = lineStart
        let count = text.count
        @inline(__always)
        func hex(_ position: inout Int) -> UInt64? {
            var value: UInt64 = 0
            let first = position
            while position < count, let digit = hexDigit(text[position]) {
                value = value << 4 | UInt64(digit)
                position += 1
            }
            let digits = position - first
            return digits > 0 && digits <= 16 ? value : nil
        }
        guard let start = hex(&position), position < count, text[position] == UInt8(ascii: "-") else { return nil }
        position += 1
        guard let end = hex(&position), start < end, position + 5 <= count, text[position] == UInt8(ascii: " ")
        else { return nil }
        var flags = MapsLineTable.Flags.anonymous
        switch text[position + 1] {
        case UInt8(ascii: "r"): flags |= MapsLineTable.Flags.read
        case UInt8(ascii: "-"): break
        default: return nil
        }
        switch text[position + 2] {
        case UInt8(ascii: "w"): flags |= MapsLineTable.Flags.write
        case UInt8(ascii: "-"): break
        default: return nil
        }
        switch text[position + 3] {
        case UInt8(ascii: "x"): flags |= MapsLineTable.Flags.execute
        case UInt8(ascii: "-"): break
        default: return nil
        }
        switch text[position + 4] {
        case UInt8(ascii: "s"): flags |= MapsLineTable.Flags.shared
        case UInt8(ascii: "p"): break
        default: return nil
        }
        position += 5
        // " 00000000 00:00 0", 17 bytes, compared 8 + 8 + 1 at a time.
        guard position + 17 <= count,
              text.loadUnaligned(fromByteOffset: position, as: UInt64.self) == anonymousTail.0,
              text.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self) == anonymousTail.1,
              text[position + 16] == UInt8(ascii: "0")
        else { return nil }
        position += 17
        // The inode ends here; then padding and no path.
        while position < count && text[position] == UInt8(ascii: " ") { position += 1 }
        if position < count {
            guard text[position] == UInt8(ascii: "\n") else { return nil }
            position += 1
        }
        return (start, end, flags, position)
    }

    /// `parseSmapsHeaders` into columns: the same grammar, the same errors.
    public static func parseSmapsHeadersTable(_ text: UnsafeRawBufferPointer) throws(MapsParseError) -> MapsLineTable {
        var table = MapsLineTable()
        var position = 0
        var lineNumber = 1
        while position < text.count {
            let first = text[position]
            let isHeader = (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
                || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "f"))
            if isHeader {
                var cursor = LineCursor(text: text, position: position, lineStart: position, lineNumber: lineNumber)
                table.append(try cursor.parseLinuxLine(), at: position)
                position = cursor.position
            } else {
                while position < text.count && text[position] != UInt8(ascii: "\n") { position += 1 }
                position += 1
            }
            lineNumber += 1
        }
        return table
    }

    /// The maps line that starts at `offset` in `text` (a maps line or an
    /// smaps mapping header), nil if it does not parse.
    public static func line(in text: [UInt8], at offset: Int) -> MapsLine? {
        guard offset >= 0 && offset < text.count else { return nil }
        return text.withUnsafeBytes { bytes in
            var cursor = LineCursor(text: bytes, position: offset, lineStart: offset, lineNumber: 1)
            return try? cursor.parseLinuxLine()
        }
    }
}

/// The first 16 bytes of " 00000000 00:00 0" as two little-endian words.
private let anonymousTail: (UInt64, UInt64) = {
    let bytes = Array(" 00000000 00:00 ".utf8)
    func word(_ from: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[from + $1]) << (8 * UInt64($1)) }
    }
    return (word(0), word(8))
}()
