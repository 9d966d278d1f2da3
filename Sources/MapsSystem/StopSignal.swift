import CProcfs

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

    /// A plain load, cheap enough for every iteration of a hot loop.
    @inlinable @inline(__always)
    public static var received: Int32 { mapsrace_stop_signal() }
}
