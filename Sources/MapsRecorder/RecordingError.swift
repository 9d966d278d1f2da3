import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Everything that can stop `record` or the reader process (the command
/// line's ExitStatus maps each case to an exit status).
public enum RecordingError: Error, CustomStringConvertible, Equatable {
    case invalidReaderStrategy(String, reason: String)
    case invalidWorkload(String)
    case invalidConfiguration(String)
    /// The arena needs more map entries than `vm.max_map_count` allows.
    case arenaExceedsMapCount(limit: Int, needed: Int, pages: Int)
    /// A maps file could not be opened or read.
    case mapsNotReadable(path: String, errno: Int32)
    /// The trace file could not be created or written.
    case outputNotWritable(path: String, reason: String)
    /// The reader process could not be started, failed, or handed over a log
    /// that does not decode.
    case readerFailed(String)
    /// A system call the recorder needs failed.
    case systemCallFailed(String, errno: Int32)
    /// A mutation of the workload failed (`kind` names the syscall, `address`
    /// and `length` its first two arguments); the loop stopped there and the
    /// trace was still written.
    case mutationFailed(
        sequence: UInt64, kind: MutationKind, address: UInt64, length: UInt64, errno: Int32, trace: String?)

    public var description: String {
        switch self {
        case .invalidReaderStrategy(let text, let reason):
            "invalid reader strategy '\(text)': \(reason)"
        case .invalidWorkload(let text):
            "invalid workload '\(text)': expected one of \(Workload.allCases.map(\.rawValue).joined(separator: ", "))"
        case .invalidConfiguration(let reason):
            reason
        case .arenaExceedsMapCount(let limit, let needed, let pages):
            "an arena of \(pages) pages needs about \(needed) map entries, but vm.max_map_count is \(limit); "
                + "use fewer --pages or raise the limit with `sysctl vm.max_map_count=\(needed + 1024)`"
        case .mapsNotReadable(let path, let code):
            "cannot read \(path): \(errorText(code)) (errno \(code))"
        case .outputNotWritable(let path, let reason):
            "cannot write the trace to \(path): \(reason)"
        case .readerFailed(let reason):
            "reader process failed: \(reason)"
        case .systemCallFailed(let call, let code):
            "\(call) failed: \(errorText(code)) (errno \(code))"
        case .mutationFailed(let sequence, let kind, let address, let length, let code, let trace):
            "mutation \(sequence) (\(kind) of 0x\(String(address, radix: 16)), \(length) bytes) failed: "
                + "\(errorText(code)) (errno \(code)); "
                + (trace.map { "the trace up to it was written to \($0)" } ?? "no trace was written")
        }
    }
}
