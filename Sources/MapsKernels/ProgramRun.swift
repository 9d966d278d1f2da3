import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// How a helper program (apt-get, dpkg-deb, ldd, QEMU) ended.
struct ProgramOutcome {
    /// Its wait status; nil when it could not be started.
    var status: WaitStatus?
    /// Why it was stopped early (`watch` said so), or why it did not start.
    var stopReason: String?
    var elapsedNs: UInt64
    /// A stop signal (SIGINT, SIGTERM) reached mapsrace meanwhile.
    var interruptedBy: Int32 = 0

    var succeeded: Bool { status?.exitedCleanly == true && stopReason == nil }
}

/// Finds `name` on PATH (or takes it as a path when it has a slash).
public func findProgram(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// Runs `executable` in a process group of its own, standard input from
/// /dev/null, standard output and error into the given files. Every 50 ms
/// `watch` is asked, with the time since the start, whether to stop it (a
/// reason): then the whole group is killed (SIGKILL; a guest has nothing to
/// save) and the reason returned. A stop signal to mapsrace kills it too.
func runProgram(
    _ executable: String, _ arguments: [String], standardOutput: String = "/dev/null",
    standardError: String = "/dev/null", watch: (UInt64) -> String? = { _ in nil }
) -> ProgramOutcome {
    let spawn = PreparedSpawn(
        executable: executable, arguments: arguments,
        fileActions: [
            .open(fd: 0, path: "/dev/null", flags: O_RDONLY, mode: 0),
            .open(fd: 1, path: standardOutput, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            .open(fd: 2, path: standardError, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
        ],
        stopSignals: .defaultAndUnblocked, ownProcessGroup: true)
    let started = MonotonicClock.now()
    let pid: pid_t
    switch spawn.spawn() {
    case .success(let child): pid = child
    case .failure(let code):
        return ProgramOutcome(status: nil, stopReason: "cannot start \(executable): \(code.text)", elapsedNs: 0)
    }
    var stopReason: String?
    var interruptedBy: Int32 = 0
    var killed = false
    while true {
        switch waitForProcess(pid, options: .noHang, retryOnInterrupt: false) {
        case .success(let ended?):
            return ProgramOutcome(
                status: ended, stopReason: stopReason, elapsedNs: MonotonicClock.now() - started,
                interruptedBy: interruptedBy)
        case .success(nil), .failure(.interrupted):
            break
        case .failure(let code):
            return ProgramOutcome(
                status: nil, stopReason: "lost track of \(executable) (pid \(pid)): \(code.text)",
                elapsedNs: MonotonicClock.now() - started)
        }
        if !killed {
            let signal = StopSignal.received
            if signal != 0 {
                interruptedBy = signal
                stopReason = "mapsrace was interrupted by signal \(signal)"
            } else {
                stopReason = watch(MonotonicClock.now() - started)
            }
            if stopReason != nil {
                sendSignal(SIGKILL, to: -pid)
                killed = true
            }
        }
        MonotonicClock.sleep(nanoseconds: 50_000_000)
    }
}

/// The last lines of a file, joined, for an error message (empty when unreadable).
func excerpt(of path: String, lines: Int = 3) -> String {
    guard case .success(let bytes) = readWholeFile(path) else { return "" }
    let text = String(decoding: bytes, as: UTF8.self)
    return text.split(separator: "\n").suffix(lines).joined(separator: " | ")
}
