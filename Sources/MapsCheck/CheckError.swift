import MapsModel
import MapsSystem

/// Why an input could not be checked. Each says what went wrong; the
/// command line names the file and picks the exit status.
public enum CheckError: Error, Equatable, CustomStringConvertible {
    /// The input could not be opened or read.
    case unreadable(Errno)
    /// A byte no maps text holds (NUL or another control character):
    /// binary data, not text.
    case binary(byte: UInt8, offset: UInt64, line: Int)
    /// A line that is not a line of the format.
    case notMaps(MapsParseError, format: CheckFormat)
    /// A line longer than the limit (no maps line comes near it).
    case lineTooLong(line: Int, limit: Int)
    /// More text than the limit.
    case inputTooLarge(limit: UInt64)
    /// Not a minidump, or one whose header or directory is inconsistent.
    case badMinidump(String)
    /// A minidump without a Linux maps stream; the stream types it holds.
    case noMapsStream(streamTypes: [UInt32])

    public var description: String {
        switch self {
        case let .unreadable(code):
            return "\(code.text) (errno \(code.rawValue))."
        case let .binary(byte, offset, line):
            return "binary data, not a maps text: byte 0x\(hex(UInt64(byte), width: 2)) at offset \(offset) (line \(line))."
        case let .notMaps(error, format):
            return "not a \(format.textName): \(error.description)."
        case let .lineTooLong(line, limit):
            return "line \(line) is longer than \(limit) bytes: not a maps text (no maps line comes near that)."
        case let .inputTooLarge(limit):
            return "more than \(limit) bytes of text: stopped (raise --max-bytes if the input really is that large)."
        case let .badMinidump(reason):
            return "not a usable minidump: \(reason)."
        case let .noMapsStream(types):
            let held = types.isEmpty ? "no streams" : "streams " + types.map { "0x" + hex(UInt64($0), width: 8) }.joined(separator: ", ")
            return "the minidump has no Linux maps stream (MD_LINUX_MAPS, 0x47670009); it holds \(held)."
        }
    }
}

extension CheckFormat {
    /// What a text of this format is called in messages.
    var textName: String {
        switch self {
        case .linux, .minidump: "Linux maps text"
        case .smaps: "Linux smaps text"
        case .freebsd: "FreeBSD procstat vm text"
        }
    }
}

/// The bounds that keep `check` finite on any input.
public struct CheckLimits: Sendable, Equatable {
    /// The longest line accepted. A maps line is at most about 4.2 KiB (a
    /// path of PATH_MAX, 4096 bytes, after 73 bytes of fields).
    public var maxLineBytes: Int
    /// The most text read from one input; an endless input stops here.
    public var maxInputBytes: UInt64
    /// How many findings are listed per input (all are counted).
    public var listedFindings: Int

    public static let standard = CheckLimits(maxLineBytes: 16384, maxInputBytes: 1 << 30, listedFindings: 1000)

    public init(maxLineBytes: Int, maxInputBytes: UInt64, listedFindings: Int) {
        self.maxLineBytes = maxLineBytes
        self.maxInputBytes = maxInputBytes
        self.listedFindings = listedFindings
    }
}
