#if canImport(Glibc)
import Glibc
#endif

/// A wait status from waitpid(2), decoded here and nowhere else.
public struct WaitStatus: Sendable, Equatable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The exit status if the process exited, nil if a signal ended or stopped it.
    public var exitStatus: Int32? { rawValue & 0x7f == 0 ? (rawValue >> 8) & 0xff : nil }

    /// The signal that killed the process, nil if it exited or is stopped.
    public var terminatingSignal: Int32? {
        let signal = rawValue & 0x7f
        return signal != 0 && signal != 0x7f ? signal : nil
    }

    /// Exited with status 0.
    public var exitedCleanly: Bool { exitStatus == 0 }

    /// Killed by SIGINT or SIGTERM.
    public var killedByStopSignal: Bool { terminatingSignal == SIGINT || terminatingSignal == SIGTERM }

    /// The status a shell reports: the exit status, or 128 + the signal.
    public var shellStatus: Int32 { exitStatus ?? 128 + (rawValue & 0x7f) }

    /// A stopped (traced) process, not an ended one.
    public var isStopped: Bool { rawValue & 0xff == 0x7f }
    /// The signal of a stop.
    public var stopSignal: Int32 { (rawValue >> 8) & 0xff }
    /// The ptrace event of a stop (`status >> 16`), 0 for a signal-delivery stop.
    public var ptraceEvent: Int32 { rawValue >> 16 }

    /// "exited with status 3", "killed by signal 9".
    public var description: String {
        if let exitStatus { return "exited with status \(exitStatus)" }
        return "killed by signal \(rawValue & 0x7f)"
    }
}

/// waitpid(2) options.
public struct WaitOptions: OptionSet, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// Return at once if the child has not changed state.
    public static let noHang = WaitOptions(rawValue: WNOHANG)
    /// __WALL: any child or tracee, thread or not.
    public static let allThreads = WaitOptions(rawValue: 0x40000000)
    /// WUNTRACED: also report a child that stopped (the tracer's stub).
    public static let stopped = WaitOptions(rawValue: WUNTRACED)
}

/// waitpid(2) for `pid`. With `retryOnInterrupt` false an interrupted wait
/// fails with `Errno.interrupted`, so that a caller waiting for a stop signal
/// can look at `StopSignal.received`. nil: `.noHang` and no change yet.
public func waitForProcess(
    _ pid: pid_t, options: WaitOptions = [], retryOnInterrupt: Bool = true
) -> Result<WaitStatus?, Errno> {
    var status: Int32 = 0
    while true {
        let result = waitpid(pid, &status, options.rawValue)
        if result > 0 { return .success(WaitStatus(rawValue: status)) }
        if result == 0 { return .success(nil) }
        let code = Errno.afterFailedCall
        if code == .interrupted && retryOnInterrupt { continue }
        return .failure(code)
    }
}

/// Sends `signal` to `pid` (kill(2)); failures (it exited) are ignored.
public func sendSignal(_ signal: Int32, to pid: pid_t) {
    _ = kill(pid, signal)
}

public var currentProcessID: pid_t { getpid() }

/// waitpid(-1, ...): the next child or tracee to change state and its status
/// (the ptrace tracer's wait). With `retryOnInterrupt` false an interrupted
/// wait fails with `Errno.interrupted`; `.noChild` when none is left.
public func waitForAnyChild(
    options: WaitOptions = [], retryOnInterrupt: Bool = true
) -> Result<(pid: pid_t, status: WaitStatus), Errno> {
    var status: Int32 = 0
    while true {
        let result = waitpid(-1, &status, options.rawValue)
        if result > 0 { return .success((result, WaitStatus(rawValue: status))) }
        let code = Errno.afterFailedCall
        if code == .interrupted && retryOnInterrupt { continue }
        return .failure(code)
    }
}
