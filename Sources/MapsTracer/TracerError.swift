import MapsTrace

/// Why `record -- CMD` could not record (the mapsrace target maps each case
/// to its exit status).
public enum TracerError: Error, CustomStringConvertible, Equatable {
    /// The command is not on PATH, or the file is not executable.
    case commandNotFound(String, reason: String)
    /// ptrace refused: `reason` says which restriction and how to lift it.
    case ptraceNotPermitted(reason: String)
    /// The kernel refused the seccomp filter (or no_new_privs).
    case seccompUnavailable(reason: String)
    /// The traced program never read a maps file: the trace was written, with
    /// 0 snapshots. `opened` says whether it opened one (and, say, only
    /// queried it with PROCMAP_QUERY).
    case noMapsRead(trace: String, opened: Bool, singleQueries: Int = 0)
    /// A documented limit stopped the recording; the trace holds what was recorded.
    case limitReached(TracerLimit, trace: String)
    case outputNotWritable(path: String, reason: String)
    /// The built-in reader (`--reader R -- CMD`) failed.
    case readerFailed(String)
    case systemCallFailed(String, errno: Int32)

    public var description: String {
        switch self {
        case .commandNotFound(let command, let reason):
            "cannot run \(command): \(reason)"
        case .ptraceNotPermitted(let reason):
            "ptrace is not permitted: \(reason)"
        case .seccompUnavailable(let reason):
            "seccomp filters are unavailable: \(reason); the tracer needs them to stop only at the syscalls that matter"
        case .noMapsRead(let trace, opened: false, _):
            "the program never opened a maps file: \(trace) holds 0 snapshots"
        case .noMapsRead(let trace, opened: true, let queries):
            "the program opened a maps file but never read it and never walked it with PROCMAP_QUERY "
                + "(a walk from address 0 makes a snapshot; its other operations on it are logged"
                + (queries > 0 ? ", \(queries) single PROCMAP_QUERY \(queries == 1 ? "query" : "queries") included" : "")
                + "): \(trace) holds 0 snapshots"
        case .limitReached(let limit, let trace):
            "recording stopped: \(limit); every tracee was killed and \(trace) holds what was recorded (marked interrupted)"
        case .outputNotWritable(let path, let reason):
            "cannot write the trace \(path): \(reason)"
        case .readerFailed(let reason):
            "the reader process failed: \(reason)"
        case .systemCallFailed(let call, let errno):
            "\(call) failed: \(String(cString: strerror(errno)))"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
