import MapsTrace

/// How the reader process reads `/proc/PID/maps`: the read(2) pattern of a
/// real program. Every strategy reads each snapshot from a fresh open, from
/// offset 0 to end of file, and logs every read(2) it makes.
public enum ReaderStrategy: Sendable, Equatable, CustomStringConvertible {
    /// Chromium's ReadFileToString: stdio `fread` with a 4 KiB first chunk,
    /// then 64 KiB chunks, on a FILE buffered as glibc buffers procfs files.
    case chromium
    /// procps `pmap`: an `fgets` line loop on the same kind of FILE.
    case pmap
    /// A plain read(2) loop with a buffer of this many bytes.
    case read(bytes: Int)

    /// The smallest and largest request size `read:SIZE` accepts.
    public static let readSizeRange = 1...(4 << 20)
    /// `cat`'s request size (coreutils' 128 KiB I/O block).
    public static let catRequestBytes = 128 << 10
    /// The stdio buffer size glibc picks for procfs: st_blksize is 1024 there,
    /// and a cookie stream cannot know it, so the reader sets it.
    public static let procfsStdioBufferBytes = 1024
    /// Chromium's chunk sizes for a file whose stat size is 0.
    public static let chromiumFirstChunkBytes = 4096
    public static let chromiumNextChunkBytes = 65536

    /// `cat`: read(2) with 128 KiB requests.
    public static let cat = ReaderStrategy.read(bytes: catRequestBytes)

    /// Parses `chromium`, `pmap`, `cat` or `read:SIZE` (SIZE in bytes).
    public init(parsing text: String) throws(RecordingError) {
        switch text {
        case "chromium": self = .chromium
        case "pmap": self = .pmap
        case "cat": self = .cat
        default:
            guard text.hasPrefix("read:") else {
                throw .invalidReaderStrategy(text, reason: "expected chromium, pmap, cat or read:SIZE")
            }
            let sizeText = text.dropFirst("read:".count)
            guard let size = Int(sizeText), !sizeText.hasPrefix("+") else {
                throw .invalidReaderStrategy(text, reason: "SIZE must be a number of bytes, like read:4096")
            }
            guard Self.readSizeRange.contains(size) else {
                throw .invalidReaderStrategy(
                    text, reason: "SIZE must be between 1 and \(Self.readSizeRange.upperBound) bytes")
            }
            self = .read(bytes: size)
        }
    }

    /// The name `init(parsing:)` accepts; `cat` is spelled `read:131072`
    /// once parsed, since it is the same syscall pattern.
    public var description: String {
        switch self {
        case .chromium: "chromium"
        case .pmap: "pmap"
        case .read(let bytes): "read:\(bytes)"
        }
    }

    /// The name with characters unfit for a file name removed (`read4096`).
    public var fileNameComponent: String {
        switch self {
        case .chromium, .pmap: description
        case .read(let bytes): "read\(bytes)"
        }
    }

    /// What the trace header stores as the reader's parameters.
    public var traceParameters: [TraceParameter] {
        switch self {
        case .chromium:
            [
                TraceParameter("api", "fread"),
                TraceParameter("first_chunk", "\(Self.chromiumFirstChunkBytes)"),
                TraceParameter("next_chunk", "\(Self.chromiumNextChunkBytes)"),
                TraceParameter("stdio_buffer", "\(Self.procfsStdioBufferBytes)"),
            ]
        case .pmap:
            [
                TraceParameter("api", "fgets"),
                TraceParameter("stdio_buffer", "\(Self.procfsStdioBufferBytes)"),
            ]
        case .read(let bytes):
            [TraceParameter("api", "read"), TraceParameter("request", "\(bytes)")]
        }
    }
}
