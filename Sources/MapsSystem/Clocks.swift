// The clocks every stage reads: CLOCK_MONOTONIC for intervals and every
// timestamp in a trace, CLOCK_REALTIME only for "when did this start".

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds. `now()` is a vDSO call (no syscall, no
/// allocation) inlined into the caller: the recorder's hot loops read it
/// around every mutation and every read.
public enum MonotonicClock {
    @inlinable @inline(__always)
    public static func now() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(truncatingIfNeeded: now.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: now.tv_nsec)
    }

    /// clock_getres(CLOCK_MONOTONIC) in nanoseconds, 0 if it cannot tell.
    public static var resolution: UInt64 {
        var resolution = timespec()
        guard clock_getres(CLOCK_MONOTONIC, &resolution) == 0 else { return 0 }
        return UInt64(resolution.tv_sec) * 1_000_000_000 + UInt64(resolution.tv_nsec)
    }

    /// Sleeps for `nanoseconds` or until a signal arrives (no SA_RESTART
    /// handler: a stop signal ends the sleep early; the caller looks at
    /// `StopSignal.received`).
    public static func sleep(nanoseconds: UInt64) {
        var remaining = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        _ = nanosleep(&remaining, nil)
    }
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
public enum WallClock {
    public static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
