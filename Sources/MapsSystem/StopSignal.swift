import CProcfs

#if canImport(Glibc)
import Glibc
#endif

/// The one stop-signal flag of a mapsrace process: the number of the first
/// SIGINT or SIGTERM since `install()`, 0 while none arrived. The handler
/// (C, async-signal-safe) only stores the number; it is installed without
/// SA_RESTART, so a blocked read, wait or sleep returns EINTR and its caller
/// looks at `received`.
public enum StopSignal {
    /// Installs the handlers and unblocks both signals (a parent may have
    /// spawned this process with them blocked).
    public static func install() -> Result<Void, Errno> {
        mapsrace_install_stop_handlers() == 0 ? .success(()) : .failure(Errno.afterFailedCall)
    }

    /// Puts SIGINT and SIGTERM back to their default actions.
    public static func restore() { mapsrace_restore_stop_handlers() }

    /// Holds SIGINT and SIGTERM back from the calling thread: from now on
    /// one that arrives stays pending (see `pending`) instead of running the
    /// handler, so that a decision taken on `received` cannot be overtaken.
    public static func holdBack() {
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
    }

    /// A SIGINT or SIGTERM held back and not delivered yet (SIGINT first), 0 if none.
    public static var pending: Int32 {
        var waiting = sigset_t()
        guard sigpending(&waiting) == 0 else { return 0 }
        if sigismember(&waiting, SIGINT) == 1 { return SIGINT }
        if sigismember(&waiting, SIGTERM) == 1 { return SIGTERM }
        return 0
    }

    /// A plain load, cheap enough for every iteration of a hot loop.
    @inlinable @inline(__always)
    public static var received: Int32 { mapsrace_stop_signal() }
}
