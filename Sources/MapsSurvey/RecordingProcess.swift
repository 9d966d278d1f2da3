// JSONDecoder without the rest of Foundation (and its ICU start-up cost).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MapsRecorder
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What `mapsrace record --outcome-file PATH` writes there when it ends by
/// itself: its exit status and, for a failure, the message it printed. The
/// survey learns from it why a recording failed, as data.
public struct RecordingOutcomeReport: Codable, Sendable, Equatable {
    public var exitStatus: Int32
    public var message: String

    public init(exitStatus: Int32, message: String) {
        self.exitStatus = exitStatus
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case exitStatus = "exit_status"
        case message
    }
}

/// How one `mapsrace record` subprocess ended.
struct RecordProcessOutcome {
    /// Its exit status, or 128 + the signal that killed it.
    var exitStatus: Int32
    /// Why it failed (its outcome report's message, or what the survey saw),
    /// empty on success.
    var message: String
    /// The error behind a failure the survey itself saw (it could not start
    /// or wait for the recorder), for the survey's exit-status classifier.
    var surveyError: RecordingError?
}

/// Runs `executable` with `arguments` plus `--outcome-file outcomePath` (before
/// a `--`, if any) in a
/// fresh process of its own process group (so that a terminal's ^C reaches
/// only the survey, which forwards it once), standard output discarded,
/// standard error kept in `errorPath`. Past `timeoutSeconds` the whole process
/// group gets SIGTERM, and SIGKILL two seconds later if it still runs.
func runRecordProcess(
    executable: String, arguments: [String], errorPath: String, outcomePath: String, timeoutSeconds: Int
) -> RecordProcessOutcome {
    // Before a `--` that starts a traced command, which must not get it.
    var withOutcome = arguments
    withOutcome.insert("--outcome-file=\(outcomePath)", at: arguments.firstIndex(of: "--") ?? arguments.endIndex)
    let spawn = PreparedSpawn(
        executable: executable, arguments: withOutcome,
        fileActions: [
            .open(fd: 0, path: "/dev/null", flags: O_RDONLY, mode: 0),
            .open(fd: 1, path: "/dev/null", flags: O_WRONLY, mode: 0),
            .open(fd: 2, path: errorPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
        ],
        stopSignals: .defaultAndUnblocked, ownProcessGroup: true)
    let pid: pid_t
    switch spawn.spawn() {
    case .success(let child): pid = child
    case .failure(let code):
        return RecordProcessOutcome(
            exitStatus: 0, message: "cannot start \(executable): \(code.text)",
            surveyError: .systemCallFailed("spawn of \(executable)", errno: code.rawValue))
    }

    var forwarded = false
    // The stop flag is checked before every wait, the first time right after
    // spawning: a ^C that arrived between the survey's own check and the
    // spawn interrupts no waitpid, and the child, in a process group of its
    // own, never saw it.
    var status = WaitStatus(rawValue: 0)
    let started = MonotonicClock.now()
    let limit = UInt64(timeoutSeconds) * 1_000_000_000
    var timedOut = false
    var killedAt: UInt64?
    waiting: while true {
        let stop = StopSignal.received
        if stop != 0 && !forwarded {
            sendSignal(stop, to: pid)
            forwarded = true
        }
        let now = MonotonicClock.now()
        if now - started >= limit {
            // The recorder leads its own process group: its reader and any
            // traced program go with it.
            if !timedOut {
                timedOut = true
                killedAt = now
                sendSignal(SIGTERM, to: -pid)
            } else if let termAt = killedAt, now - termAt >= 2_000_000_000 {
                sendSignal(SIGKILL, to: -pid)
                killedAt = nil
            }
        }
        switch waitForProcess(pid, options: .noHang, retryOnInterrupt: false) {
        case .success(let ended?):
            status = ended
            break waiting
        case .success(nil), .failure(.interrupted):
            // Polled: a blocking wait could not notice the time limit.
            MonotonicClock.sleep(nanoseconds: 10_000_000)
            continue
        case .failure(let code):
            return RecordProcessOutcome(
                exitStatus: 0, message: "lost track of \(executable) (pid \(pid)): \(code.text)",
                surveyError: .systemCallFailed("waitpid for \(executable)", errno: code.rawValue))
        }
    }
    let report = readOutcomeReport(outcomePath)
    unlink(outcomePath)
    let message: String
    if timedOut {
        message = "mapsrace record ran past the survey's time limit of \(timeoutSeconds) s and was stopped (\(status))"
    } else if status.exitedCleanly {
        message = ""
    } else if let report, report.exitStatus == status.shellStatus, !report.message.isEmpty {
        message = report.message
    } else {
        message = "mapsrace record \(status) without reporting why"
    }
    return RecordProcessOutcome(exitStatus: status.shellStatus, message: message, surveyError: nil)
}

/// The outcome report at `path`, nil if there is none or it does not decode.
func readOutcomeReport(_ path: String) -> RecordingOutcomeReport? {
    guard case .success(let bytes) = readWholeFile(path) else { return nil }
    return try? JSONDecoder().decode(RecordingOutcomeReport.self, from: Data(bytes))
}

/// The size of a file, nil if it cannot be stat'ed.
func fileSize(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_size)
}
