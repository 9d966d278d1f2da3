import MapsSystem
#if canImport(Glibc)
import Glibc
#endif

/// How far a truncated trace could be read: every complete block before the
/// cut, and nothing of the incomplete block that starts at `byteOffset`.
public struct TraceTruncation: Sendable, Equatable {
    public var blocksRecovered: Int
    public var recordsRecovered: Int
    /// Offset in the file (compressed bytes) where the incomplete block starts.
    public var byteOffset: UInt64

    public init(blocksRecovered: Int, recordsRecovered: Int, byteOffset: UInt64) {
        self.blocksRecovered = blocksRecovered
        self.recordsRecovered = recordsRecovered
        self.byteOffset = byteOffset
    }
}

/// How a trace ended, as far as a reader could tell.
public enum TraceCompletion: Sendable, Equatable {
    /// The trailer record was read and the file ended cleanly after it.
    case complete
    /// The file ends inside a block: the recorder died or the file was cut.
    case truncated(TraceTruncation)
    /// The file ends cleanly after a block, but no trailer was ever written.
    case missingTrailer
}

/// Why a trace could not be written or read.
public enum TraceError: Error, CustomStringConvertible, Equatable {
    /// open/read/write/close failed; `path` is the file (or "fd N"). The
    /// description leaves the path out: whoever reports it names the file
    /// (see `file`).
    case io(path: String, errno: Int32)
    /// The file is not a mapsrace trace; the text says why (without the
    /// file's name, which the caller knows).
    case notATrace(String)
    case unsupportedVersion(UInt32)
    /// A caller that needs the whole trace asked for it and it was cut.
    case truncated(TraceTruncation)
    /// A block's zstd content checksum did not match its decompressed bytes.
    case checksumMismatch(block: Int, byteOffset: UInt64)
    /// zstd rejected a block's compressed data before its checksum could be
    /// verified (corrupt frame header or block).
    case corruptBlock(block: Int, byteOffset: UInt64, reason: String)
    /// A block is well-formed zstd but breaks the trace format's rules
    /// (no content size, larger than the block limit, a record running past
    /// its end, ...).
    case malformedBlock(block: Int, byteOffset: UInt64, reason: String)
    /// A record breaks the format; `byteOffset` is where the record starts in
    /// the raw (decompressed) record stream.
    case malformedRecord(byteOffset: UInt64, kind: UInt8, reason: String)

    /// The file an I/O error is about, for a caller that does not name it.
    public var file: String? {
        if case .io(let path, _) = self { path } else { nil }
    }

    public var description: String {
        switch self {
        case let .io(_, code):
            return "\(errorText(code)) (errno \(code))."
        case let .notATrace(reason):
            return "not a mapsrace trace: \(reason)."
        case let .unsupportedVersion(version):
            return "the trace has format version \(version); this mapsrace reads versions \(readableTraceFormatVersions.lowerBound) to \(readableTraceFormatVersions.upperBound)."
        case let .truncated(cut):
            return "the trace is truncated: the block at byte \(cut.byteOffset) is incomplete; "
                + "\(cut.blocksRecovered) complete blocks (\(cut.recordsRecovered) records) before it were recovered."
        case let .checksumMismatch(block, offset):
            return "block \(block) (at byte \(offset)) fails its content checksum: the trace is corrupt from there on."
        case let .corruptBlock(block, offset, reason):
            return "block \(block) (at byte \(offset)) is corrupt: \(reason)."
        case let .malformedBlock(block, offset, reason):
            return "block \(block) (at byte \(offset)) is malformed: \(reason)."
        case let .malformedRecord(offset, kind, reason):
            return "malformed \(recordKindName(kind)) record at raw stream offset \(offset): \(reason)."
        }
    }
}

/// Hard limits a reader enforces before it allocates anything a trace asks for.
public struct TraceLimits: Sendable, Equatable {
    /// Largest decompressed block (one zstd frame).
    public var maxBlockRawSize: Int
    /// Largest payload of a single record.
    public var maxRecordPayload: Int
    /// Longest string field (versions, names, parameter values).
    public var maxString: Int
    /// Most parameters a workload or reader may list.
    public var maxParameters: Int
    /// Largest `bytes` of one read chunk.
    public var maxChunkBytes: Int
    /// Largest reassembled quiescent maps text.
    public var maxQuiescentText: Int

    public init(
        maxBlockRawSize: Int, maxRecordPayload: Int, maxString: Int,
        maxParameters: Int, maxChunkBytes: Int, maxQuiescentText: Int
    ) {
        self.maxBlockRawSize = maxBlockRawSize
        self.maxRecordPayload = maxRecordPayload
        self.maxString = maxString
        self.maxParameters = maxParameters
        self.maxChunkBytes = maxChunkBytes
        self.maxQuiescentText = maxQuiescentText
    }

    public static let standard = TraceLimits(
        maxBlockRawSize: 64 << 20,
        maxRecordPayload: 48 << 20,
        maxString: 1 << 20,
        maxParameters: 4096,
        maxChunkBytes: 32 << 20,
        maxQuiescentText: 256 << 20
    )
}
