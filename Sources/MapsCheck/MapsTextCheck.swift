import MapsModel

/// Checks one maps text line by line, in constant memory: every structural
/// impossibility (overlapping or backwards ranges through `AddressOrder`, a
/// range ending before it starts, a cut last line, a line repeated) and the
/// suspicious shapes (unmerged anonymous neighbours; a hole where a
/// page-per-read reader resumed).
public struct MapsTextCheck {
    /// Bytes of whole lines one page-per-read `read(2)` returns at most.
    public static var pageTextCapacity: Int { PageFill.capacity }

    public let format: CheckFormat
    public let limits: CheckLimits
    public private(set) var result: MapsCheckResult
    private var order = AddressOrder()
    private var highestText: [UInt8] = []
    private var previous: (line: MapsLine, number: Int)?
    private var previousText: [UInt8] = []
    private var pageFill = PageFill()

    public init(format: CheckFormat, limits: CheckLimits = .standard) {
        self.format = format
        self.limits = limits
        self.result = MapsCheckResult(format: format)
    }

    /// The next line of the text, without its newline; `terminated` is false
    /// for a last line the text ends inside. `byteOffset` is where it starts.
    public mutating func add(
        line raw: UnsafeRawBufferPointer, number: Int, byteOffset: UInt64, terminated: Bool
    ) throws(CheckError) {
        result.lines += 1
        let text = raw.last == UInt8(ascii: "\r") ? UnsafeRawBufferPointer(rebasing: raw.dropLast()) : raw
        let startsPage = (format == .linux || format == .minidump)
            && pageFill.startsPage(lineLength: raw.count + 1)

        let parsed: MapsLine?
        do throws(MapsParseError) {
            switch format {
            case .linux, .minidump:
                parsed = try MapsParser.parseLinuxLine(text, lineNumber: number)
            case .smaps:
                if text.first.map(MapsParser.isSmapsHeader) == true {
                    parsed = try MapsParser.parseLinuxLine(text, lineNumber: number)
                } else {
                    try requireSmapsField(text, lineNumber: number)
                    parsed = nil
                }
            case .freebsd:
                parsed = try MapsParser.parseFreeBSDLine(text, lineNumber: number)
            }
        } catch {
            guard !terminated else { throw .notMaps(error, format: format) }
            parsed = nil
        }
        if !terminated && counts(.truncatedLastLine) {
            result.findings.append(CheckFinding(
                kind: .truncatedLastLine, lines: [numbered(text, number)],
                detail: "the text ends inside line \(number), without the newline the kernel ends every line with: it was not read to its end"))
        }
        guard let line = parsed else { return }
        result.mappings += 1

        guard line.start < line.end else {
            if counts(.endBeforeStart) {
                result.findings.append(CheckFinding(
                    kind: .endBeforeStart, lines: [numbered(text, number)],
                    detail: "line \(number) ends at \(addressString(line.end)), \(line.end == line.start ? "where" : "before") it starts (\(addressString(line.start)))"))
            }
            previous = nil
            return
        }

        // A line repeated exactly: the line before it, or the earlier line
        // whose range it repeats.
        var repeated: NumberedLine?
        if let before = previous, text.elementsEqual(previousText) {
            repeated = numbered(previousText, before.number)
        } else if let highest = order.highest, highest.line != previous?.number, text.elementsEqual(highestText) {
            repeated = numbered(highestText, highest.line)
        }
        // `highestText` is still the earlier line's: it is replaced below.
        if let found = order.add(start: line.start, end: line.end, line: number), repeated == nil,
           counts(found.shape == .backwards ? .backwards : .overlap) {
            result.findings.append(
                orderFinding(found, earlier: numbered(highestText, found.earlierLine), later: numbered(text, number)))
        }
        if let repeated, counts(.duplicateLine) {
            result.findings.append(CheckFinding(
                kind: .duplicateLine, lines: [repeated, numbered(text, number)],
                detail: "line \(number) repeats line \(repeated.number) exactly: one mapping reported twice"))
        }
        if order.highest?.line == number { copy(text, into: &highestText) }

        if format != .freebsd, let before = previous {
            if before.line.end == line.start && before.line.isAnonymous && line.isAnonymous
                && before.line.permissions == line.permissions && counts(.unmergedAnonymous) {
                result.findings.append(CheckFinding(
                    kind: .unmergedAnonymous, lines: [numbered(previousText, before.number), numbered(text, number)],
                    detail: "lines \(before.number) and \(number) are neighbouring anonymous mappings with the same permissions (\(line.permissions)), which the kernel normally merges into one"))
            }
            if startsPage && line.start > before.line.end && line.hasSameBacking(as: before.line)
                && counts(.pageBoundaryJump) {
                result.findings.append(CheckFinding(
                    kind: .pageBoundaryJump, lines: [numbered(previousText, before.number), numbered(text, number)],
                    detail: "a hole \(addressString(before.line.end))-\(addressString(line.start)) between lines \(before.number) and \(number) of the same backing, at byte \(byteOffset) where a reader taking a page per read(2) resumed: a line may have been skipped"))
            }
        }
        previous = (line, number)
        copy(text, into: &previousText)
    }

    private func orderFinding(_ found: AddressOrder.Break, earlier: NumberedLine, later: NumberedLine) -> CheckFinding {
        let m = found.earlierLine
        let n = found.line
        switch found.shape {
        case .backwards:
            return CheckFinding(
                kind: .backwards, shape: .backwards, lines: [earlier, later],
                detail: "line \(n) lies below line \(m) (it ends at \(addressString(found.range.upperBound)), line \(m) starts at \(addressString(found.earlierRange.lowerBound))): the addresses go backwards")
        case .mergeBetweenReads:
            let how = found.range.lowerBound == found.earlierRange.lowerBound
                ? "starts where line \(m) starts and extends it"
                : "covers line \(m) and extends it"
            return CheckFinding(
                kind: .overlap, shape: .mergeBetweenReads, lines: [earlier, later],
                detail: "line \(n) \(how) to \(addressString(found.range.upperBound)): the shape a merge between two reads produces (the mapping grew after line \(m) was read, and the next read resumed inside it)")
        case .overlap:
            let low = max(found.range.lowerBound, found.earlierRange.lowerBound)
            let high = min(found.range.upperBound, found.earlierRange.upperBound)
            return CheckFinding(
                kind: .overlap, shape: .overlap, lines: [earlier, later],
                detail: "lines \(m) and \(n) both map \(addressString(low))-\(addressString(high)): no two mappings overlap")
        }
    }

    /// Counts a finding of `kind`; whether the list has room for it (only
    /// then is it built: an input of a million findings builds a thousand).
    private mutating func counts(_ kind: CheckFindingKind) -> Bool {
        if kind.proved { result.impossibilities += 1 } else { result.suspicious += 1 }
        guard result.findings.count < limits.listedFindings else {
            result.findingsOmitted += 1
            return false
        }
        return true
    }
}

/// An smaps line under a mapping header: `Name:` (a capital, then letters,
/// digits or `_`) and its value.
private func requireSmapsField(_ text: UnsafeRawBufferPointer, lineNumber: Int) throws(MapsParseError) {
    func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }
    guard let first = text.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") else {
        throw MapsParseError(line: lineNumber, column: 1, reason: "expected a mapping header or a 'Field: value' line")
    }
    var index = 1
    while index < text.count && isNameByte(text[index]) { index += 1 }
    guard index < text.count, text[index] == UInt8(ascii: ":") else {
        throw MapsParseError(line: lineNumber, column: index + 1, reason: "expected ':' after the field name")
    }
}

/// Where a reader asking for a page or more per `read(2)` gets each read's
/// first line: the kernel generates whole lines into one 4096-byte buffer
/// per read and stops before a line that does not fit (one that would fill
/// it exactly does not: at most 4095 bytes), so the boundaries follow from
/// the line lengths alone.
public struct PageFill: Sendable {
    public static let capacity = 4095
    private var filled = 0

    public init() {}

    /// Adds the next line (`lineLength` bytes with its newline); whether it
    /// is the first line of a new read.
    public mutating func startsPage(lineLength: Int) -> Bool {
        let starts = filled > 0 && filled + lineLength > Self.capacity
        if starts { filled = 0 }
        filled += lineLength
        return starts
    }
}

private func numbered(_ text: UnsafeRawBufferPointer, _ number: Int) -> NumberedLine {
    NumberedLine(number: number, text: String(decoding: text, as: UTF8.self))
}

private func numbered(_ text: [UInt8], _ number: Int) -> NumberedLine {
    NumberedLine(number: number, text: String(decoding: text, as: UTF8.self))
}

private func copy(_ text: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
    buffer.removeAll(keepingCapacity: true)
    buffer.append(contentsOf: text)
}

extension MapsLine {
    /// No file behind it: no path, inode 0, device 00:00.
    var isAnonymous: Bool {
        path.isEmpty && inode == 0 && deviceMajor == 0 && deviceMinor == 0
    }

    /// Both anonymous, or the same file.
    func hasSameBacking(as other: MapsLine) -> Bool {
        if isAnonymous { return other.isAnonymous }
        return path == other.path && inode == other.inode
            && deviceMajor == other.deviceMajor && deviceMinor == other.deviceMinor
    }
}

/// Checks the maps text `input` holds (for a minidump: its maps stream),
/// reading it once in 64 KiB pieces: memory stays bounded by the limits
/// whatever the input's size.
public func checkMaps(
    _ input: ByteInput, format: CheckFormat, limits: CheckLimits = .standard
) throws(CheckError) -> MapsCheckResult {
    var remaining: UInt64?
    var location: MinidumpStreamLocation?
    if format == .minidump {
        let found = try Minidump.seekToMapsStream(in: input, limits: limits)
        location = found
        remaining = found.size
    }
    var check = MapsTextCheck(format: format, limits: limits)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    defer { buffer.deallocate() }
    var carry: [UInt8] = []  // the start of a line that began in an earlier piece
    var lineNumber = 1
    var lineOffset: UInt64 = 0
    var consumed: UInt64 = 0
    while true {
        let wanted = remaining.map { Int(min(UInt64(buffer.count), $0)) } ?? buffer.count
        if wanted == 0 { break }
        let count = try input.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]))
        if count == 0 {
            if let remaining, remaining > 0, let location {
                throw .badMinidump("the maps stream (\(location.size) bytes at offset \(location.offset)) is cut short after \(location.size - remaining) bytes")
            }
            break
        }
        if remaining != nil { remaining! -= UInt64(count) }
        let pieceOffset = consumed
        consumed += UInt64(count)
        if consumed > limits.maxInputBytes { throw .inputTooLarge(limit: limits.maxInputBytes) }
        do {
            let piece = UnsafeRawBufferPointer(buffer)
            var lineStart = 0
            for index in 0..<count {
                let byte = piece[index]
                if byte == UInt8(ascii: "\n") {
                    let body = UnsafeRawBufferPointer(rebasing: piece[lineStart..<index])
                    if carry.count + body.count > limits.maxLineBytes {
                        throw .lineTooLong(line: lineNumber, limit: limits.maxLineBytes)
                    }
                    if carry.isEmpty {
                        try check.add(line: body, number: lineNumber, byteOffset: lineOffset, terminated: true)
                    } else {
                        carry.append(contentsOf: body)
                        try carry.withUnsafeBufferPointer { (line) throws(CheckError) in
                            try check.add(line: UnsafeRawBufferPointer(line), number: lineNumber, byteOffset: lineOffset, terminated: true)
                        }
                        carry.removeAll(keepingCapacity: true)
                    }
                    lineNumber += 1
                    lineStart = index + 1
                    lineOffset = pieceOffset + UInt64(lineStart)
                } else if (byte < 0x20 && byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\r")) || byte == 0x7f {
                    throw .binary(byte: byte, offset: pieceOffset + UInt64(index), line: lineNumber)
                }
            }
            carry.append(contentsOf: piece[lineStart..<count])
            if carry.count > limits.maxLineBytes { throw .lineTooLong(line: lineNumber, limit: limits.maxLineBytes) }
        }
    }
    if !carry.isEmpty {
        try carry.withUnsafeBufferPointer { (line) throws(CheckError) in
            try check.add(line: UnsafeRawBufferPointer(line), number: lineNumber, byteOffset: lineOffset, terminated: false)
        }
    }
    var result = check.result
    result.bytes = consumed
    result.minidumpStream = location
    return result
}
