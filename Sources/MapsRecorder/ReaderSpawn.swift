internal import CProcfs

#if canImport(Glibc)
import Glibc
#endif

/// The reader process: everything needed to start it is prepared (argument
/// strings, file actions, the log memfd, the ready pipe) before the arena
/// exists, so that starting it allocates nothing in the mutator.
final class ReaderSpawn {
    private let executable: UnsafeMutablePointer<CChar>
    private let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let argumentCount: Int
    private let fileActions: UnsafeMutablePointer<posix_spawn_file_actions_t>
    private let attributes: UnsafeMutablePointer<posix_spawnattr_t>
    /// The memfd the reader writes its log to (inherited by the reader).
    let logFD: Int32
    private var readyReadFD: Int32
    private var readyWriteFD: Int32
    private(set) var pid: pid_t = 0
    /// The reader's wait status once reaped.
    private(set) var waitStatus: Int32?

    /// How long a stopped reader gets to hand over its log before SIGKILL.
    static let stopGraceNanoseconds: UInt64 = 2_000_000_000

    init(executable path: String, configuration: (Int32, Int32) -> ReaderProcessConfiguration) throws(RecordingError) {
        logFD = mapsrace_memfd_create("mapsrace-reader-log")
        guard logFD >= 0 else { throw .systemCallFailed("memfd_create", errno: errno) }
        var pipeEnds: [Int32] = [-1, -1]
        // pipe2 is hidden by the Glibc overlay; the recorder is single-threaded
        // here, so pipe + FD_CLOEXEC leaks nothing into another exec.
        guard pipe(&pipeEnds) == 0 else {
            let code = errno
            close(logFD)
            throw .systemCallFailed("pipe", errno: code)
        }
        for fd in pipeEnds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        readyReadFD = pipeEnds[0]
        readyWriteFD = pipeEnds[1]

        let arguments = [path, "_reader"] + configuration(logFD, readyWriteFD).arguments
        executable = strdup(path)
        argumentCount = arguments.count
        argv = .allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv[index] = strdup(argument) }
        argv[arguments.count] = nil

        // dup2 onto the same number clears FD_CLOEXEC in the child only
        // (glibc >= 2.29), so the parent's copies stay close-on-exec.
        fileActions = .allocate(capacity: 1)
        posix_spawn_file_actions_init(fileActions)
        posix_spawn_file_actions_adddup2(fileActions, logFD, logFD)
        posix_spawn_file_actions_adddup2(fileActions, readyWriteFD, readyWriteFD)
        attributes = .allocate(capacity: 1)
        posix_spawnattr_init(attributes)
        // SIGINT and SIGTERM start at their default actions but BLOCKED: one
        // that arrives before the reader's handlers are in place stays
        // pending until `mapsrace_install_stop_handlers` unblocks it, so it
        // stops the reader through its handler (log handed over), never kills it.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        posix_spawnattr_setsigdefault(attributes, &stopSignals)
        posix_spawnattr_setsigmask(attributes, &stopSignals)
        posix_spawnattr_setflags(attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    }

    deinit {
        if pid > 0 && waitStatus == nil { _ = stop() }
        posix_spawn_file_actions_destroy(fileActions)
        fileActions.deallocate()
        posix_spawnattr_destroy(attributes)
        attributes.deallocate()
        for index in 0..<argumentCount { free(argv[index]) }
        argv.deallocate()
        free(executable)
        for fd in [logFD, readyReadFD, readyWriteFD] where fd >= 0 { close(fd) }
    }

    /// Starts the reader. It writes one byte on the ready pipe right before
    /// its first open of the maps.
    func start() throws(RecordingError) {
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, fileActions, attributes, argv, mapsrace_environment())
        guard result == 0 else {
            throw .readerFailed("posix_spawn of \(String(cString: executable)): \(errorText(result))")
        }
        pid = child
        close(readyWriteFD)
        readyWriteFD = -1
    }

    enum Readiness { case ready, exitedEarly, interrupted }

    /// Blocks until the reader is about to open the maps for the first time.
    func waitUntilReady() -> Readiness {
        var byte: UInt8 = 0
        while true {
            let count = read(readyReadFD, &byte, 1)
            if count == 1 { return .ready }
            if count == 0 { return .exitedEarly }
            if errno != EINTR { return .exitedEarly }
            if mapsrace_stop_signal() != 0 { return .interrupted }
        }
    }

    /// Waits for the reader to finish its snapshots. If a stop signal arrives
    /// meanwhile, stops it instead (see `stop`).
    func reap() -> Int32 {
        if let waitStatus { return waitStatus }
        var status: Int32 = 0
        while mapsrace_stop_signal() == 0 {
            let result = waitpid(pid, &status, 0)
            if result == pid {
                waitStatus = status
                return status
            }
            if result < 0 && errno != EINTR { break }
        }
        return stop()
    }

    /// SIGTERM, then up to `stopGraceNanoseconds` for the reader to hand over
    /// its log and exit, then SIGKILL. Always reaps.
    func stop() -> Int32 {
        if let waitStatus { return waitStatus }
        var status: Int32 = 0
        kill(pid, SIGTERM)
        let deadline = monotonicNanoseconds() + Self.stopGraceNanoseconds
        while monotonicNanoseconds() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                waitStatus = status
                return status
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)
            nanosleep(&pause, nil)
        }
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        waitStatus = status
        return status
    }
}

/// "exited with status 3", "killed by signal 9".
func describeWaitStatus(_ status: Int32) -> String {
    let signal = status & 0x7f
    if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
    return "killed by signal \(signal)"
}

func exitedCleanly(_ status: Int32) -> Bool { status & 0x7f == 0 && (status >> 8) & 0xff == 0 }

/// Whether the wait status is a death by SIGINT or SIGTERM.
func killedByStopSignal(_ status: Int32) -> Bool {
    let signal = status & 0x7f
    return signal == SIGINT || signal == SIGTERM
}
