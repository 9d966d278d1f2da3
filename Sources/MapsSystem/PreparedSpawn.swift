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
/// file actions, attributes), so that `spawn()` allocates nothing: the
/// recorder starts its reader while the arena exists.
public final class PreparedSpawn {
    public let executablePath: String
    private let executable: UnsafeMutablePointer<CChar>
    private let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let argumentCount: Int
    private let fileActions: UnsafeMutablePointer<posix_spawn_file_actions_t>
    private let attributes: UnsafeMutablePointer<posix_spawnattr_t>

    /// `arguments` are argv[1...]; argv[0] is the executable's path.
    /// `ownProcessGroup`: the child leads a new process group, so that a
    /// terminal's ^C reaches only the parent (which may forward it).
    public init(
        executable path: String, arguments: [String], fileActions actions: [SpawnFileAction],
        stopSignals: SpawnStopSignals, ownProcessGroup: Bool = false
    ) {
        executablePath = path
        let all = [path] + arguments
        executable = strdup(path)
        argumentCount = all.count
        argv = .allocate(capacity: all.count + 1)
        for (index, argument) in all.enumerated() { argv[index] = strdup(argument) }
        argv[all.count] = nil

        fileActions = .allocate(capacity: 1)
        posix_spawn_file_actions_init(fileActions)
        for action in actions {
            switch action {
            case .inherit(let fd): posix_spawn_file_actions_adddup2(fileActions, fd, fd)
            case .open(let fd, let path, let flags, let mode):
                posix_spawn_file_actions_addopen(fileActions, fd, path, flags, mode)
            }
        }
        attributes = .allocate(capacity: 1)
        posix_spawnattr_init(attributes)
        var stopSet = sigset_t()
        sigemptyset(&stopSet)
        sigaddset(&stopSet, SIGINT)
        sigaddset(&stopSet, SIGTERM)
        posix_spawnattr_setsigdefault(attributes, &stopSet)
        var mask = sigset_t()
        sigemptyset(&mask)
        if case .defaultAndBlocked = stopSignals { mask = stopSet }
        posix_spawnattr_setsigmask(attributes, &mask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if ownProcessGroup {
            posix_spawnattr_setpgroup(attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(attributes, Int16(flags))
    }

    deinit {
        posix_spawn_file_actions_destroy(fileActions)
        fileActions.deallocate()
        posix_spawnattr_destroy(attributes)
        attributes.deallocate()
        for index in 0..<argumentCount { free(argv[index]) }
        argv.deallocate()
        free(executable)
    }

    /// Starts the child: its pid, or the error posix_spawn returned.
    public func spawn() -> Result<pid_t, Errno> {
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, fileActions, attributes, argv, mapsrace_environment())
        return result == 0 ? .success(child) : .failure(Errno(rawValue: result))
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
