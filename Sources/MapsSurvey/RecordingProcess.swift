import MapsTrace
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why a survey could not run at all (a failing recording only fails its cell).
public enum SurveyError: MapsRaceFailure, Equatable {
    case invalidPlan(String)
    /// The survey directory could not be created or written.
    case directoryNotWritable(path: String, reason: String)

    public var exitCode: Int32 {
        switch self {
        case .invalidPlan: 64
        case .directoryNotWritable: 22
        }
    }

    public var description: String {
        switch self {
        case .invalidPlan(let reason): reason
        case .directoryNotWritable(let path, let reason): "cannot use \(path) for the survey: \(reason)"
        }
    }
}

/// SIGINT and SIGTERM as the survey sees them: a handler only notes the
/// first one, and the survey stops after the recording in progress, which
/// gets the signal too (it writes its trace, marked interrupted).
public enum SurveyInterruption {
    private static let received = Atomic<Int32>(0)

    /// The first SIGINT or SIGTERM since `install()`, 0 if none.
    public static var signal: Int32 { received.load(ordering: .relaxed) }

    /// Installs the handlers (no SA_RESTART: a blocked waitpid returns EINTR).
    public static func install() {
        _ = received.load(ordering: .relaxed)  // initialise the static outside the handler
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            _ = SurveyInterruption.received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}

/// How one `mapsrace record` subprocess ended.
struct RecordProcessOutcome {
    /// Its exit code, or 128 + the signal that killed it.
    var exitCode: Int32
    /// The message of its last `mapsrace: error: ` line (or its last line of
    /// standard error), empty if it printed nothing.
    var message: String
}

/// Runs `executable` with `arguments` in a fresh process of its own process
/// group (so that a terminal's ^C reaches only the survey, which forwards it
/// once), standard output discarded, standard error kept in `errorPath`.
func runRecordProcess(executable: String, arguments: [String], errorPath: String) -> RecordProcessOutcome {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGTERM)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    posix_spawnattr_setsigmask(&attributes, &unblocked)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard result == 0 else {
        return RecordProcessOutcome(exitCode: 24, message: "cannot start \(executable): \(String(cString: strerror(result)))")
    }

    var status: Int32 = 0
    var forwarded = false
    // The stop flag is checked before every wait, the first time right after
    // spawning: a ^C that arrived between the survey's own check and the
    // spawn interrupts no waitpid, and the child, in a process group of its
    // own, never saw it.
    while true {
        let stop = SurveyInterruption.signal
        if stop != 0 && !forwarded {
            kill(pid, stop)
            forwarded = true
        }
        if waitpid(pid, &status, 0) == pid { break }
        guard errno == EINTR else {
            return RecordProcessOutcome(
                exitCode: 24, message: "lost track of \(executable) (pid \(pid)): \(String(cString: strerror(errno)))")
        }
    }
    let signal = status & 0x7f
    let exitCode = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    return RecordProcessOutcome(exitCode: exitCode, message: errorMessage(inFile: errorPath))
}

/// The last `mapsrace: error: ` message in a file, without that prefix, or
/// its last non-empty line.
func errorMessage(inFile path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    let prefix = "mapsrace: error: "
    if let error = lines.last(where: { $0.hasPrefix(prefix) }) {
        return String(error.dropFirst(prefix.count))
    }
    return lines.last(where: { !$0.isEmpty }) ?? ""
}

/// The size of a file, nil if it cannot be stat'ed.
func fileSize(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_size)
}
