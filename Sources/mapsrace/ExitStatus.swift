import ArgumentParser
import MapsSystem
import MapsAnalysis
import MapsCheck
import MapsKernels
import MapsRecorder
import MapsReport
import MapsSurvey
import MapsTrace
import MapsTracer

#if canImport(Glibc)
import Glibc
#endif

/// Every exit status of `mapsrace`: the one table. The libraries throw typed
/// errors that say what went wrong and carry no exit codes; this file alone
/// maps them (the `ReportedFailure` conformances below) to a status. The
/// README's "Exit status" table is checked against `ExitStatus.allCases`
/// and `meaning` by ExitStatusTableTests.
enum ExitStatus: Int32, CaseIterable, Sendable {
    case done = 0
    case anomalyFound = 1
    case checkTorn = 2
    case checkSuspicious = 3
    case inputUnreadable = 10
    case notATrace = 11
    case unsupportedVersion = 12
    case truncated = 13
    case corruptBlock = 14
    case malformed = 15
    case arenaExceedsMapCount = 20
    case mapsNotReadable = 21
    case outputNotWritable = 22
    case readerFailed = 23
    case recordingFailed = 24
    case commandNotRunnable = 25
    case ptraceNotPermitted = 26
    case seccompUnavailable = 27
    case noMapsRead = 28
    case tracerLimit = 29
    case countRWInput = 30
    case noSuchSnapshotOrState = 31
    case checkInputUnreadable = 40
    case checkNotMaps = 41
    case checkOverLimit = 42
    case checkBadMinidump = 43
    case qemuUnavailable = 50
    case kernelFailed = 51
    case usage = 64
    /// 128 + the signal: 130 for SIGINT, 143 for SIGTERM (see `interrupted(by:)`).
    case interrupted = 128

    /// The README's words for the status.
    var meaning: String {
        switch self {
        case .done: "done (for `analyze`: the analysis ran, whatever it found)"
        case .anomalyFound: "`analyze --fail-on-anomaly` found a race anomaly"
        case .checkTorn: "`check`: some input is torn (a structural impossibility)"
        case .checkSuspicious: "`check`: some input is suspicious, none torn"
        case .inputUnreadable: "the trace (or an input) cannot be opened or read"
        case .notATrace: "not a mapsrace trace"
        case .unsupportedVersion: "unsupported trace format version"
        case .truncated: "the trace was cut short: output covers what was recovered, then this code"
        case .corruptBlock: "a block fails its checksum, has none, or does not decompress"
        case .malformed: "malformed record, a length over a hard limit, or an arena analysis cannot use (including one larger than the trace can describe: [docs/trace-format.md](docs/trace-format.md#reading-safely))"
        case .arenaExceedsMapCount: "the arena needs more mappings than `vm.max_map_count` allows"
        case .mapsNotReadable: "the maps file cannot be read"
        case .outputNotWritable: "the output (trace, extract or survey directory, report page, export) cannot be written"
        case .readerFailed: "the reader process failed"
        case .recordingFailed: "another recording failure"
        case .commandNotRunnable: "`record -- CMD`: the command is not found or not executable"
        case .ptraceNotPermitted: "`record -- CMD`: ptrace is not permitted (Yama `ptrace_scope`, no CAP_SYS_PTRACE, a container's profile)"
        case .seccompUnavailable: "`record -- CMD`: seccomp filters are unavailable"
        case .noMapsRead: "`record -- CMD`: the program never read a maps file nor walked one with PROCMAP_QUERY (the trace is written, with 0 snapshots)"
        case .tracerLimit: "`record -- CMD`: a tracer limit was reached (events, log bytes, tasks); the tracees were killed, the trace is written, marked interrupted"
        case .countRWInput: "a `count-rw` input cannot be read or parsed"
        case .noSuchSnapshotOrState: "no such snapshot or state in the trace"
        case .checkInputUnreadable: "a `check` input cannot be opened or read"
        case .checkNotMaps: "a `check` input is binary data, or a line is not in the format"
        case .checkOverLimit: "a `check` input is over a limit (a line over 16 KiB, or more than `--max-bytes`)"
        case .checkBadMinidump: "a `check` input is not a usable minidump, or holds no Linux maps stream"
        case .qemuUnavailable: "`kernels`: QEMU, or another program it needs (apt-get, dpkg-deb, ldd), is not installed"
        case .kernelFailed: "`kernels`: a kernel could not be fetched, did not boot in time, or sent back no survey (its row says why; the other kernels ran)"
        case .usage: "bad command line"
        case .interrupted: "recording interrupted by SIGINT, SIGTERM (the trace is still written, marked interrupted)"
        }
    }

    /// The codes the README lists for the status ("130, 143" for `interrupted`).
    var readmeCodes: String {
        self == .interrupted ? "\(Self.interruptedCode(by: SIGINT)), \(Self.interruptedCode(by: SIGTERM))" : "\(rawValue)"
    }

    /// What a command throws to end with this status.
    var exitCode: ExitCode { ExitCode(rawValue) }

    /// 128 + `signal`, the status of a run a stop signal ended.
    static func interruptedCode(by signal: Int32) -> Int32 { ExitStatus.interrupted.rawValue + signal }

    /// What a command throws to end as interrupted by `signal`.
    static func interrupted(by signal: Int32) -> ExitCode { ExitCode(interruptedCode(by: signal)) }

    /// The status for any library error; nil for one that is not a mapsrace
    /// failure (ArgumentParser's own, which it reports itself).
    static func of(_ error: any Error) -> Int32? {
        (error as? any ReportedFailure)?.exitStatus.rawValue
    }
}

/// A library error the command line reports as `mapsrace: error: ...` and
/// ends with its `exitStatus`.
protocol ReportedFailure: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}

extension TraceError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .io: .inputUnreadable
        case .notATrace: .notATrace
        case .unsupportedVersion: .unsupportedVersion
        case .truncated: .truncated
        case .checksumMismatch, .corruptBlock: .corruptBlock
        case .malformedBlock, .malformedRecord: .malformed
        }
    }
}

extension AnalysisError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .trace(let error): error.exitStatus
        case .missingRecord, .unusableArena, .unparsableQuiescentMaps, .replay: .malformed
        case .noSuchSnapshot, .noSuchState, .addressSpace: .noSuchSnapshotOrState
        case .snapshotLostToTruncation: .truncated
        }
    }
}

extension ExtractError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .outputNotWritable: .outputNotWritable
        // Lost to the cut of a truncated trace: that is the truncation, as
        // `analyze` and `diff` report it.
        case .noSuchSnapshot(_, _, truncated: true): .truncated
        case .noSuchSnapshot(_, _, truncated: false): .noSuchSnapshotOrState
        }
    }
}

extension RecordingError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .invalidReaderStrategy, .invalidWorkload, .invalidConfiguration: .usage
        case .arenaExceedsMapCount: .arenaExceedsMapCount
        case .mapsNotReadable: .mapsNotReadable
        case .outputNotWritable: .outputNotWritable
        case .readerFailed: .readerFailed
        case .systemCallFailed, .mutationFailed: .recordingFailed
        }
    }
}

extension TracerError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .commandNotFound: .commandNotRunnable
        case .ptraceNotPermitted: .ptraceNotPermitted
        case .seccompUnavailable: .seccompUnavailable
        case .noMapsRead: .noMapsRead
        case .limitReached: .tracerLimit
        case .outputNotWritable: .outputNotWritable
        case .readerFailed: .readerFailed
        case .systemCallFailed: .recordingFailed
        }
    }
}

extension SurveyError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .invalidPlan: .usage
        case .directoryNotWritable: .outputNotWritable
        case .realReaderUnavailable: .commandNotRunnable
        }
    }
}

extension ReportError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .unreadableSurvey: .inputUnreadable
        case .unwritable: .outputNotWritable
        }
    }
}

extension CheckError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .unreadable: .checkInputUnreadable
        case .binary, .notMaps: .checkNotMaps
        case .lineTooLong, .inputTooLarge: .checkOverLimit
        case .badMinidump, .noMapsStream: .checkBadMinidump
        }
    }
}

extension KernelsError: ReportedFailure {
    var exitStatus: ExitStatus {
        switch self {
        case .invalidKernel: .usage
        case .toolMissing, .qemuUnavailable: .qemuUnavailable
        case .noPackage, .fetchFailed, .initramfsFailed: .kernelFailed
        case .notWritable: .outputNotWritable
        }
    }
}

/// A `count-rw` input that cannot be opened or read.
struct InputFileFailure: ReportedFailure {
    var path: String
    var reason: String
    var exitStatus: ExitStatus { .countRWInput }
    var description: String { "\(path): \(reason)" }
}
