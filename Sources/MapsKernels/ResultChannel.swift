/// The guest's results, sent on its second serial port (QEMU writes it to a
/// file on the host): text lines, so that nothing a tty does to bytes can
/// corrupt them unnoticed, and framed, so that a cut is detected.
///
///     MAPSRACE-GUEST <uname -r> procmap_query=<yes|no>
///     MAPSRACE-FILE <name> <size> <fnv1a64 hex>
///     <base64 of the file, 76 characters a line>
///     MAPSRACE-END
///     ... one FILE..END frame per file ...
///     MAPSRACE-DONE <survey exit status> <files sent>
///     MAPSRACE-ERROR <message>        (instead of DONE when the guest failed)
///
/// A file whose size or checksum does not match, or a stream without
/// DONE or ERROR, is a cut stream: the host says so.
public enum ResultChannel {
    public static let guestTag = "MAPSRACE-GUEST"
    static let fileTag = "MAPSRACE-FILE"
    static let endTag = "MAPSRACE-END"
    static let doneTag = "MAPSRACE-DONE"
    static let errorTag = "MAPSRACE-ERROR"
    static let lineLength = 76

    /// Names a frame may carry: a plain file name, nothing that climbs out
    /// of the directory it is written into.
    public static func isSafeName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x2d || byte == 0x5f || byte == 0x2b
        }
    }

    public static func helloLine(release: String, procmapQuery: Bool) -> String {
        "\(guestTag) \(release.replacingSpaces()) procmap_query=\(procmapQuery ? "yes" : "no")\n"
    }

    /// One file's frame.
    public static func fileFrame(name: String, bytes: [UInt8]) -> [UInt8] {
        var out = Array("\(fileTag) \(name) \(bytes.count) \(hex(fnv1a64(bytes)))\n".utf8)
        let encoded = Base64.encode(bytes)
        var start = 0
        while start < encoded.count {
            let end = min(start + lineLength, encoded.count)
            out.append(contentsOf: encoded[start..<end])
            out.append(0x0a)
            start = end
        }
        out.append(contentsOf: Array("\(endTag)\n".utf8))
        return out
    }

    public static func doneLine(surveyExitStatus: Int32, files: Int) -> String {
        "\(doneTag) \(surveyExitStatus) \(files)\n"
    }

    public static func errorLine(_ message: String) -> String {
        "\(errorTag) \(message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " "))\n"
    }

    /// What the host read back.
    public struct Received: Sendable, Equatable {
        public var release: String?
        public var procmapQuery: Bool?
        public var files: [(name: String, bytes: [UInt8])] = []
        public var surveyExitStatus: Int32?
        public var guestError: String?
        /// Why the stream is unusable past some point (a bad frame, a cut).
        public var damage: String?

        public var finished: Bool { surveyExitStatus != nil || guestError != nil }

        public static func == (lhs: Received, rhs: Received) -> Bool {
            lhs.release == rhs.release && lhs.procmapQuery == rhs.procmapQuery
                && lhs.files.map(\.name) == rhs.files.map(\.name) && lhs.files.map(\.bytes) == rhs.files.map(\.bytes)
                && lhs.surveyExitStatus == rhs.surveyExitStatus && lhs.guestError == rhs.guestError
                && lhs.damage == rhs.damage
        }
    }

    /// Parses what the guest sent. Lines before the hello (firmware noise)
    /// are skipped; carriage returns are dropped.
    public static func parse(_ stream: [UInt8]) -> Received {
        var received = Received()
        var lines: [Substring] = []
        let text = String(decoding: stream.filter { $0 != 0x0d }, as: UTF8.self)
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The last piece is an unterminated line (or empty): never complete.
        if !lines.isEmpty { lines.removeLast() }
        var index = 0
        while index < lines.count, !lines[index].hasPrefix(guestTag + " ") { index += 1 }
        guard index < lines.count else {
            received.damage = "the guest never reported (no \(guestTag) line)"
            return received
        }
        let hello = lines[index].split(separator: " ")
        if hello.count >= 2 { received.release = String(hello[1]) }
        if hello.count >= 3 { received.procmapQuery = hello[2] == "procmap_query=yes" }
        index += 1
        while index < lines.count {
            let line = lines[index]
            index += 1
            let words = line.split(separator: " ")
            if line.hasPrefix(errorTag) {
                received.guestError = String(line.dropFirst(errorTag.count).drop(while: { $0 == " " }))
                return received
            }
            if words.first == Substring(doneTag), words.count == 3, let status = Int32(words[1]) {
                received.surveyExitStatus = status
                if Int(words[2]) != received.files.count {
                    received.damage = "the guest sent \(words[2]) file(s), \(received.files.count) arrived"
                }
                return received
            }
            guard words.first == Substring(fileTag), words.count == 4, let size = Int(words[2]),
                let checksum = UInt64(words[3], radix: 16)
            else {
                received.damage = "unexpected line \(index) in the guest's results: \(line.prefix(60))"
                return received
            }
            let name = String(words[1])
            guard isSafeName(name) else {
                received.damage = "the guest sent a file with an unusable name: \(name.prefix(60))"
                return received
            }
            var encoded: [UInt8] = []
            var ended = false
            while index < lines.count {
                let body = lines[index]
                index += 1
                if body == Substring(endTag) { ended = true; break }
                encoded.append(contentsOf: body.utf8)
            }
            guard ended else {
                received.damage = "the results stop inside \(name) (the guest was cut off)"
                return received
            }
            guard let bytes = Base64.decode(encoded), bytes.count == size, fnv1a64(bytes) == checksum else {
                received.damage = "\(name) arrived damaged (size or checksum differs)"
                return received
            }
            received.files.append((name, bytes))
        }
        received.damage = "the results stop after \(received.files.count) file(s) without \(doneTag) (the guest was cut off)"
        return received
    }

    /// FNV-1a, 64 bits: enough to tell a damaged transfer.
    public static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension String {
    func replacingSpaces() -> String { split(separator: " ").joined(separator: "_") }
}

/// RFC 4648 base64 with padding.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(value >> 6 & 63)] : 0x3d)
            out.append(0x3d)
        }
        return out
    }

    static func value(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x41...0x5a: UInt32(byte - 0x41)
        case 0x61...0x7a: UInt32(byte - 0x61 + 26)
        case 0x30...0x39: UInt32(byte - 0x30 + 52)
        case 0x2b: 62
        case 0x2f: 63
        default: nil
        }
    }

    /// nil for anything that is not canonical padded base64.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var index = 0
        while index < text.count {
            let last = index + 4 == text.count
            let padding = last ? (text[index + 3] == 0x3d ? (text[index + 2] == 0x3d ? 2 : 1) : 0) : 0
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = text[index + offset]
                if offset >= 4 - padding {
                    value <<= 6
                } else {
                    guard let digit = Self.value(byte) else { return nil }
                    value = value << 6 | digit
                }
            }
            out.append(UInt8(value >> 16 & 0xff))
            if padding < 2 { out.append(UInt8(value >> 8 & 0xff)) }
            if padding < 1 { out.append(UInt8(value & 0xff)) }
            index += 4
        }
        return out
    }
}
