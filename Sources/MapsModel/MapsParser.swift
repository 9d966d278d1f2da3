/// Where and why a maps text could not be parsed. Lines and columns are 1-based.
public struct MapsParseError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String

    public init(line: Int, column: Int, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A parsed maps text: the lines in file order, and where each one starts.
public struct MapsText: Sendable, Equatable {
    public var lines: [MapsLine]
    /// Byte offset of each line's first byte in the text (parallel to `lines`).
    public var byteOffsets: [Int]

    public init(lines: [MapsLine] = [], byteOffsets: [Int] = []) {
        self.lines = lines
        self.byteOffsets = byteOffsets
    }
}

public enum MapsParser {
    /// Parses `/proc/PID/maps` text:
    /// `start-end perms offset major:minor inode [path]`, one mapping a line.
    /// Works over the bytes in place; only a non-empty path becomes a String.
    /// A last line without its newline is accepted.
    public static func parseLinux(_ text: [UInt8]) throws(MapsParseError) -> MapsText {
        try text.withUnsafeBufferPointer { (buffer) throws(MapsParseError) -> MapsText in
            try parseLinux(UnsafeRawBufferPointer(buffer))
        }
    }

    public static func parseLinux(_ text: UnsafeRawBufferPointer) throws(MapsParseError) -> MapsText {
        var result = MapsText()
        // Lines are about 50 bytes for anonymous mappings.
        result.lines.reserveCapacity(text.count / 48 + 1)
        result.byteOffsets.reserveCapacity(text.count / 48 + 1)
        var position = 0
        var lineNumber = 1
        while position < text.count {
            var cursor = LineCursor(text: text, position: position, lineStart: position, lineNumber: lineNumber)
            let line = try cursor.parseLinuxLine()
            result.lines.append(line)
            result.byteOffsets.append(position)
            position = cursor.position
            lineNumber += 1
        }
        return result
    }

    /// Parses one Linux maps line (`line` holds no newline). Unlike
    /// `parseLinux`, a range that ends at or before its start is returned as
    /// printed, for a caller that reports it (`mapsrace check`).
    public static func parseLinuxLine(
        _ line: UnsafeRawBufferPointer, lineNumber: Int
    ) throws(MapsParseError) -> MapsLine {
        var cursor = LineCursor(text: line, position: 0, lineStart: 0, lineNumber: lineNumber)
        return try cursor.parseLinuxLine(requireAscending: false)
    }

    /// Whether an smaps line starting with `first` is a mapping header (a
    /// lowercase hex digit) rather than a `Field:  value` line (a capital).
    public static func isSmapsHeader(_ first: UInt8) -> Bool {
        (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
            || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "f"))
    }

    /// Parses the mapping header lines of `/proc/PID/smaps` (the same
    /// layout as a maps line) and skips the `Field:  value` lines under each.
    /// A header starts with a lowercase hex digit; every field name starts
    /// with a capital letter. Offsets and line numbers are those of the whole
    /// text.
    public static func parseSmapsHeaders(_ text: [UInt8]) throws(MapsParseError) -> MapsText {
        try text.withUnsafeBufferPointer { (buffer) throws(MapsParseError) -> MapsText in
            let bytes = UnsafeRawBufferPointer(buffer)
            var result = MapsText()
            var position = 0
            var lineNumber = 1
            while position < bytes.count {
                if isSmapsHeader(bytes[position]) {
                    var cursor = LineCursor(text: bytes, position: position, lineStart: position, lineNumber: lineNumber)
                    result.lines.append(try cursor.parseLinuxLine())
                    result.byteOffsets.append(position)
                    position = cursor.position
                } else {
                    while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
                    position += 1
                }
                lineNumber += 1
            }
            return result
        }
    }

    /// Parses FreeBSD `procstat vm` output (the seed's second format):
    /// `PID START END PRT RES PRES REF SHD FLAG TP PATH`, addresses as `0x…`,
    /// permissions as `rwx` with `-`. The heading line is skipped. Only the
    /// fields mapsrace uses are kept: start, end, permissions and path.
    public static func parseFreeBSD(_ text: [UInt8]) throws(MapsParseError) -> MapsText {
        try text.withUnsafeBufferPointer { (buffer) throws(MapsParseError) -> MapsText in
            let bytes = UnsafeRawBufferPointer(buffer)
            var result = MapsText()
            var lineStart = 0
            var lineNumber = 0
            while lineStart < bytes.count {
                lineNumber += 1
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
                if let parsed = try parseFreeBSDLine(line, lineNumber: lineNumber, requireAscending: true) {
                    result.lines.append(parsed)
                    result.byteOffsets.append(lineStart)
                }
            }
            return result
        }
    }

    /// Parses one line of FreeBSD `procstat vm` output (no newline in
    /// `line`); nil for the heading and for a blank line. With
    /// `requireAscending` false a range that ends at or before its start is
    /// returned as printed.
    public static func parseFreeBSDLine(
        _ text: UnsafeRawBufferPointer, lineNumber: Int, requireAscending: Bool = false
    ) throws(MapsParseError) -> MapsLine? {
        let lineEnd = text.count
        var fields: [(start: Int, end: Int)] = []
        var index = 0
        while index < lineEnd && fields.count < 11 {
            while index < lineEnd && (text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: "\t")) {
                index += 1
            }
            if index == lineEnd { break }
            let fieldStart = index
            if fields.count == 10 {
                index = lineEnd  // the path: the rest of the line
            } else {
                while index < lineEnd && text[index] != UInt8(ascii: " ") && text[index] != UInt8(ascii: "\t") {
                    index += 1
                }
            }
            fields.append((fieldStart, index))
        }
        if fields.isEmpty { return nil }
        let first = text[fields[0].start..<fields[0].end]
        if first.elementsEqual("PID".utf8) { return nil }
        guard fields.count >= 4 else {
            throw MapsParseError(
                line: lineNumber, column: 1,
                reason: "expected at least PID START END PRT, found \(fields.count) field(s)")
        }
        func address(_ field: Int) throws(MapsParseError) -> UInt64 {
            var digits = fields[field].start
            let end = fields[field].end
            if end - digits > 2 && text[digits] == UInt8(ascii: "0")
                && (text[digits + 1] == UInt8(ascii: "x") || text[digits + 1] == UInt8(ascii: "X")) {
                digits += 2
            }
            var value: UInt64 = 0
            guard digits < end, end - digits <= 16 else {
                throw MapsParseError(
                    line: lineNumber, column: fields[field].start + 1, reason: "expected a hex address")
            }
            for i in digits..<end {
                guard let digit = hexDigit(text[i]) else {
                    throw MapsParseError(
                        line: lineNumber, column: i + 1, reason: "expected a hex digit")
                }
                value = value << 4 | UInt64(digit)
            }
            return value
        }
        let start = try address(1)
        let end = try address(2)
        guard start < end || !requireAscending else {
            throw MapsParseError(
                line: lineNumber, column: fields[1].start + 1, reason: "start is not below end")
        }
        let prt = Array(text[fields[3].start..<fields[3].end])
        guard prt.count >= 3 else {
            throw MapsParseError(
                line: lineNumber, column: fields[3].start + 1, reason: "expected permissions like rw-")
        }
        let permissions = Permissions(
            read: prt[0] == UInt8(ascii: "r"), write: prt[1] == UInt8(ascii: "w"),
            execute: prt[2] == UInt8(ascii: "x"), shared: false)
        let path = fields.count > 10
            ? String(decoding: UnsafeRawBufferPointer(rebasing: text[fields[10].start..<fields[10].end]), as: UTF8.self)
            : ""
        return MapsLine(start: start, end: end, permissions: permissions, path: path)
    }
}

@inline(__always)
func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
    default: nil
    }
}

/// Walks one Linux maps line field by field.
struct LineCursor {
    let text: UnsafeRawBufferPointer
    var position: Int
    let lineStart: Int
    let lineNumber: Int

    func failure(_ reason: String) -> MapsParseError {
        MapsParseError(line: lineNumber, column: position - lineStart + 1, reason: reason)
    }

    @inline(__always)
    var current: UInt8? { position < text.count ? text[position] : nil }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(MapsParseError) {
        guard current == byte else {
            throw failure(current == nil || current == UInt8(ascii: "\n")
                ? "line ends where \(what) was expected" : "expected \(what)")
        }
        position += 1
    }

    @inline(__always)
    mutating func hexNumber(_ what: String, maxDigits: Int) throws(MapsParseError) -> UInt64 {
        var value: UInt64 = 0
        var digits = 0
        while let byte = current, let digit = hexDigit(byte) {
            guard digits < maxDigits else { throw failure("\(what) has more than \(maxDigits) hex digits") }
            value = value << 4 | UInt64(digit)
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw failure("expected \(what) in hex") }
        return value
    }

    @inline(__always)
    mutating func decimalNumber(_ what: String) throws(MapsParseError) -> UInt64 {
        var value: UInt64 = 0
        var digits = 0
        while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw failure("\(what) does not fit in 64 bits") }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw failure("expected \(what) in decimal") }
        return value
    }

    @inline(__always)
    mutating func permissionCharacter(_ set: UInt8, _ unset: UInt8, _ what: String) throws(MapsParseError) -> Bool {
        switch current {
        case set?: position += 1; return true
        case unset?: position += 1; return false
        default:
            throw failure("expected '\(Character(Unicode.Scalar(set)))' or '\(Character(Unicode.Scalar(unset)))' for \(what)")
        }
    }

    mutating func parseLinuxLine(requireAscending: Bool = true) throws(MapsParseError) -> MapsLine {
        let start = try hexNumber("start address", maxDigits: 16)
        try expect(UInt8(ascii: "-"), "'-' between start and end")
        let end = try hexNumber("end address", maxDigits: 16)
        try expect(UInt8(ascii: " "), "a space before the permissions")
        guard start < end || !requireAscending else {
            throw MapsParseError(line: lineNumber, column: 1, reason: "start address is not below end address")
        }
        let read = try permissionCharacter(UInt8(ascii: "r"), UInt8(ascii: "-"), "read")
        let write = try permissionCharacter(UInt8(ascii: "w"), UInt8(ascii: "-"), "write")
        let execute = try permissionCharacter(UInt8(ascii: "x"), UInt8(ascii: "-"), "execute")
        let shared = try permissionCharacter(UInt8(ascii: "s"), UInt8(ascii: "p"), "shared/private")
        try expect(UInt8(ascii: " "), "a space before the offset")
        let offset = try hexNumber("offset", maxDigits: 16)
        try expect(UInt8(ascii: " "), "a space before the device")
        let major = try hexNumber("device major", maxDigits: 8)
        try expect(UInt8(ascii: ":"), "':' in the device")
        let minor = try hexNumber("device minor", maxDigits: 8)
        try expect(UInt8(ascii: " "), "a space before the inode")
        let inode = try decimalNumber("inode")
        // Then padding spaces and the optional path, up to the newline.
        while current == UInt8(ascii: " ") { position += 1 }
        let pathStart = position
        while let byte = current, byte != UInt8(ascii: "\n") { position += 1 }
        let pathEnd = position
        if current == UInt8(ascii: "\n") { position += 1 }
        let path = pathEnd > pathStart
            ? String(decoding: UnsafeRawBufferPointer(rebasing: text[pathStart..<pathEnd]), as: UTF8.self)
            : ""
        return MapsLine(
            start: start, end: end,
            permissions: Permissions(read: read, write: write, execute: execute, shared: shared),
            offset: offset, deviceMajor: UInt32(truncatingIfNeeded: major),
            deviceMinor: UInt32(truncatingIfNeeded: minor), inode: inode, path: path)
    }
}
