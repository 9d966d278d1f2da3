import MapsSystem
internal import CTracer
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// The options of one traced run.
public struct TracerConfiguration: Sendable {
    /// The command and its arguments (`argv`); the first is looked up on PATH.
    public var command: [String]
    /// The program that runs `_traced-exec` (mapsrace itself).
    public var stubExecutable: String
    public var maxEvents: Int
    public var maxDataBytes: Int
    public var maxTracees: Int
    /// Send the command's standard output to /dev/null (an external reader's
    /// output is not the recording's).
    public var discardOutput = false
    /// The fast path (FastPath.swift): the preload library put into the
    /// command's LD_PRELOAD (nil: none, every mutation stops), and the
    /// records of its per-process ring (a power of two).
    public var fastPathLibrary: String? = FastPathLibrary.locate()
    public var fastPathRingRecords = FastPathLibrary.defaultRingRecords

    public static let defaultMaxEvents = 4_000_000
    public static let defaultMaxDataBytes = 1 << 30
    public static let defaultMaxTracees = 4096

    public init(
        command: [String], stubExecutable: String = "/proc/self/exe", maxEvents: Int = defaultMaxEvents,
        maxDataBytes: Int = defaultMaxDataBytes, maxTracees: Int = defaultMaxTracees
    ) {
        self.command = command
        self.stubExecutable = stubExecutable
        self.maxEvents = maxEvents
        self.maxDataBytes = maxDataBytes
        self.maxTracees = maxTracees
    }
}

/// The exit codes of `mapsrace _traced-exec` when it fails before the
/// command runs (its stage of `mapsrace_traced_exec`, plus 120).
public enum TracedExecStub {
    public static let exitBase: Int32 = 120

    /// In the stub process: seccomp, stop, execve. Returns only on failure,
    /// with the exit code to use.
    public static func run(path: String, arguments: [String]) -> Int32 {
        FastPathLibrary.moveIntoPreload()
        var cArguments = arguments.map { strdup($0) }
        cArguments.append(nil)
        let stage = cArguments.withUnsafeMutableBufferPointer { argv in
            mapsrace_traced_exec(path, argv.baseAddress, mapsrace_tracer_environment())
        }
        let error = errno
        let what: String
        switch Int(stage) {
        case Int(MAPSRACE_TRACED_EXEC_NO_NEW_PRIVS): what = "prctl(PR_SET_NO_NEW_PRIVS)"
        case Int(MAPSRACE_TRACED_EXEC_SECCOMP): what = "prctl(PR_SET_SECCOMP)"
        case Int(MAPSRACE_TRACED_EXEC_STOP): what = "kill(SIGSTOP)"
        default: what = "execve \(path)"
        }
        let message = "mapsrace: \(what): \(String(cString: strerror(error)))\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        return exitBase + stage
    }
}

/// What tracing a command produced, before it is encoded.
final class TracedRun {
    let log: TracerLog
    let loop: TracerLoop
    let rootPID: Int32
    let originNs: UInt64
    let tStart: UInt64
    let tEnd: UInt64

    init(log: TracerLog, loop: TracerLoop, rootPID: Int32, originNs: UInt64, tStart: UInt64, tEnd: UInt64) {
        self.log = log
        self.loop = loop
        self.rootPID = rootPID
        self.originNs = originNs
        self.tStart = tStart
        self.tEnd = tEnd
    }

    var root: TracedProcessState? { loop.processOrder.first }
}

/// Runs `configuration.command` under the tracer until it and everything it
/// started are gone.
func traceCommand(
    _ configuration: TracerConfiguration, originNs: UInt64, prepare: (TracerLoop) -> Void = { _ in }
) throws(TracerError) -> TracedRun {
    guard let name = configuration.command.first else { throw .commandNotFound("", reason: "no command given") }
    let path = try resolveCommand(name)
    guard let log = TracerLog(eventCapacity: configuration.maxEvents, dataCapacity: configuration.maxDataBytes) else {
        throw .systemCallFailed("mmap of the tracer's log (\(configuration.maxDataBytes) bytes)", errno: errno)
    }

    // The stub: `mapsrace _traced-exec PATH ARGV...`.
    let arguments = [configuration.stubExecutable, "_traced-exec", path] + configuration.command
    var cArguments = arguments.map { strdup($0) }
    cArguments.append(nil)
    defer { for argument in cArguments { free(argument) } }
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if configuration.discardOutput {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    // The stub's environment: mapsrace's, plus the fast path's library
    // (the stub moves it into LD_PRELOAD) and ring size.
    var environment: [UnsafeMutablePointer<CChar>?] = []
    var inherited = mapsrace_tracer_environment()
    while let entry = inherited?.pointee {
        let text = String(cString: entry)
        if !text.hasPrefix(FastPathLibrary.stubVariable + "="), !text.hasPrefix(FastPathLibrary.ringVariable + "=") {
            environment.append(strdup(entry))
        }
        inherited = inherited?.advanced(by: 1)
    }
    if let library = configuration.fastPathLibrary {
        environment.append(strdup(FastPathLibrary.stubVariable + "=" + library))
        environment.append(strdup(FastPathLibrary.ringVariable + "=\(configuration.fastPathRingRecords)"))
    }
    environment.append(nil)
    defer { for entry in environment { free(entry) } }
    let spawned = cArguments.withUnsafeMutableBufferPointer { argv in
        environment.withUnsafeMutableBufferPointer { envp in
            posix_spawn(&pid, configuration.stubExecutable, &actions, nil, argv.baseAddress!, envp.baseAddress!)
        }
    }
    guard spawned == 0 else { throw .systemCallFailed("posix_spawn \(configuration.stubExecutable)", errno: spawned) }

    // It stops itself once its filter is installed.
    let stubStatus: WaitStatus
    switch waitForProcess(pid, options: .stopped) {
    case .success(let status?): stubStatus = status
    case .success(nil): throw .systemCallFailed("waitpid", errno: ECHILD)
    case .failure(let code): throw .systemCallFailed("waitpid", errno: code.rawValue)
    }
    if !stubStatus.isStopped {
        let code = stubStatus.exitStatus ?? -1
        if code == TracedExecStub.exitBase + Int32(MAPSRACE_TRACED_EXEC_SECCOMP)
            || code == TracedExecStub.exitBase + Int32(MAPSRACE_TRACED_EXEC_NO_NEW_PRIVS)
        {
            throw .seccompUnavailable(reason: "the kernel refused the filter (the stub's message is above)")
        }
        throw .systemCallFailed("the traced-exec stub (\(stubStatus))", errno: ECHILD)
    }
    let options = MAPSRACE_O_TRACESYSGOOD | MAPSRACE_O_TRACEFORK | MAPSRACE_O_TRACEVFORK | MAPSRACE_O_TRACECLONE
        | MAPSRACE_O_TRACEEXEC | MAPSRACE_O_TRACEEXIT | MAPSRACE_O_TRACESECCOMP | MAPSRACE_O_EXITKILL
    if mapsrace_ptrace_request(Int32(MAPSRACE_PTRACE_SEIZE_REQUEST), pid, 0, UInt(options)) != 0 {
        let error = Errno.afterFailedCall
        sendSignal(SIGKILL, to: pid)
        _ = waitForProcess(pid)
        throw .ptraceNotPermitted(reason: ptraceRefusal(error.rawValue))
    }
    let tStart = monotonicNanoseconds()
    let loop = TracerLoop(log: log, rootPID: pid, maxTracees: configuration.maxTracees, now: tStart)
    prepare(loop)
    if configuration.fastPathLibrary != nil { loop.startDrainTimer() }
    kill(pid, SIGCONT)
    loop.run()
    loop.stopDrainTimer()
    return TracedRun(log: log, loop: loop, rootPID: pid, originNs: originNs, tStart: tStart, tEnd: monotonicNanoseconds())
}

/// PATH lookup as execvp does it; the absolute path of an executable file.
public func resolveCommand(_ name: String) throws(TracerError) -> String {
    func check(_ path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else { return nil }
        return path
    }
    if name.contains("/") {
        var status = stat()
        guard stat(name, &status) == 0 else { throw .commandNotFound(name, reason: "no such file") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .commandNotFound(name, reason: "not a regular file") }
        guard access(name, X_OK) == 0 else { throw .commandNotFound(name, reason: "not executable (permission denied)") }
        return name
    }
    let search = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in search.split(separator: ":", omittingEmptySubsequences: false) {
        let base = directory.isEmpty ? "." : String(directory)
        if let found = check(base + "/" + name) { return found }
    }
    throw .commandNotFound(name, reason: "not found on PATH")
}

/// Why PTRACE_SEIZE of our own child failed, and how to allow it.
func ptraceRefusal(_ error: Int32) -> String {
    var text = "PTRACE_SEIZE failed with \(String(cString: strerror(error)))"
    if let scope = try? String(contentsOfProcFile: "/proc/sys/kernel/yama/ptrace_scope"), let value = Int(scope) {
        switch value {
        case 3: text += "; Yama ptrace_scope is 3 (no ptrace at all, until reboot)"
        case 2: text += "; Yama ptrace_scope is 2 (admin only): run as root or give mapsrace CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep), or set kernel.yama.ptrace_scope to 1"
        default: text += "; Yama ptrace_scope is \(value); mapsrace lacks CAP_SYS_PTRACE or runs in a container that forbids ptrace (seccomp profile or no_new_privs): allow ptrace there (e.g. docker --cap-add SYS_PTRACE)"
        }
    } else {
        text += "; no Yama; the container or a security module forbids ptrace: allow it (e.g. docker --cap-add SYS_PTRACE)"
    }
    return text
}

extension String {
    init(contentsOfProcFile path: String) throws(TracerError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .systemCallFailed("open \(path)", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 255) }
        guard got >= 0 else { throw .systemCallFailed("read \(path)", errno: errno) }
        self = String(decoding: buffer[0..<got], as: UTF8.self).trimmingWhitespace()
    }

    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        return String(text)
    }
}
