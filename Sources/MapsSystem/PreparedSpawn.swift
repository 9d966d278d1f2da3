#if canImport(Glibc)
import Glibc
#endif
import CProcfs

/// What a spawned child's descriptors are.
public enum SpawnFileAction: Sendable {
    /// The parent's descriptor, inherited under the same number (it stays
    /// close-on-exec in the parent: dup2 onto itself clears FD_CLOEXEC in
    /// the child only, glibc >= 2.29).
    case inherit(Int32)
    /// `fd` opened on `path` in the child.
    case open(fd: Int32, path: String, flags: Int32, mode: mode_t)
}

/// How a spawned child starts with SIGINT and SIGTERM.
public enum SpawnStopSignals: Sendable {
    /// Default actions, blocked: one that arrives before the child installs
    /// its handlers (`StopSignal.install`, which unblocks them) stays pending
    /// instead of killing it.
    case defaultAndBlocked
    /// Default actions, nothing blocked.
    case defaultAndUnblocked
}

/// A posix_spawn(3) of a child prepared in full up front (argument strings,
/// file actions, signal sets, the child's stack), so that `spawn()`
/// allocates nothing and maps nothing: the recorder starts its reader while
/// the arena exists, after its initial quiescent read. (glibc's posix_spawn
/// maps a stack for the child and unmaps it after the exec, and a reader
/// quick enough, or a parent slow enough under load, saw that mapping in
/// its snapshots: `mapsrace_spawn` clones onto this preallocated stack.)
public final class PreparedSpawn {
    public let executablePath: String
    private let executable: UnsafeMutablePointer<CChar>
    private let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let argumentCount: Int
    private let actions: UnsafeMutablePointer<mapsrace_spawn_action>
    private let actionCount: Int
    private let defaultSignals: UnsafeMutablePointer<sigset_t>
    private let signalMask: UnsafeMutablePointer<sigset_t>
    private let ownProcessGroup: Bool
    private let stack: UnsafeMutableRawPointer

    /// The child's stack until its exec: glibc's posix_spawn takes 32 KiB
    /// plus the arguments; the child here only resets signals, opens files
    /// and calls execve.
    static let stackBytes = 64 << 10

    /// `arguments` are argv[1...]; argv[0] is the executable's path.
    /// `ownProcessGroup`: the child leads a new process group, so that a
    /// terminal's ^C reaches only the parent (which may forward it).
    public init(
        executable path: String, arguments: [String], fileActions: [SpawnFileAction],
        stopSignals: SpawnStopSignals, ownProcessGroup: Bool = false
    ) {
        executablePath = path
        let all = [path] + arguments
        executable = strdup(path)
        argumentCount = all.count
        argv = .allocate(capacity: all.count + 1)
        for (index, argument) in all.enumerated() { argv[index] = strdup(argument) }
        argv[all.count] = nil

        actionCount = fileActions.count
        actions = .allocate(capacity: max(fileActions.count, 1))
        for (index, action) in fileActions.enumerated() {
            switch action {
            case .inherit(let fd):
                actions[index] = mapsrace_spawn_action(fd: fd, path: nil, flags: 0, mode: 0)
            case .open(let fd, let path, let flags, let mode):
                actions[index] = mapsrace_spawn_action(fd: fd, path: UnsafePointer(strdup(path)), flags: flags, mode: mode)
            }
        }
        defaultSignals = .allocate(capacity: 1)
        sigemptyset(defaultSignals)
        sigaddset(defaultSignals, SIGINT)
        sigaddset(defaultSignals, SIGTERM)
        signalMask = .allocate(capacity: 1)
        sigemptyset(signalMask)
        if case .defaultAndBlocked = stopSignals { signalMask.pointee = defaultSignals.pointee }
        self.ownProcessGroup = ownProcessGroup
        stack = .allocate(byteCount: Self.stackBytes, alignment: 16)
    }

    deinit {
        for index in 0..<actionCount { free(UnsafeMutableRawPointer(mutating: actions[index].path)) }
        actions.deallocate()
        defaultSignals.deallocate()
        signalMask.deallocate()
        stack.deallocate()
        for index in 0..<argumentCount { free(argv[index]) }
        argv.deallocate()
        free(executable)
    }

    /// Starts the child: its pid, or the error that kept it from running
    /// the executable.
    public func spawn() -> Result<pid_t, Errno> {
        let result = mapsrace_spawn(
            executable, argv, mapsrace_environment(), actions, Int32(actionCount), defaultSignals, signalMask,
            ownProcessGroup ? 1 : 0, stack, Self.stackBytes)
        return result > 0 ? .success(result) : .failure(Errno(rawValue: -result))
    }
}

/// A pipe whose both ends are close-on-exec: (read end, write end).
public func makePipe() -> Result<(read: Int32, write: Int32), Errno> {
    var ends: [Int32] = [-1, -1]
    // pipe2 is hidden by the Glibc overlay; callers are single-threaded
    // here, so pipe + FD_CLOEXEC leaks nothing into another exec.
    guard pipe(&ends) == 0 else { return .failure(Errno.afterFailedCall) }
    for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return .success((ends[0], ends[1]))
}
