import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// Stops every thread of the target with ptrace around one snapshot of the
/// `frozen` reader, and lets them go again: the Linux counterpart of
/// FreeBSD's consistent sysctl snapshot, paid for with a pause of the target.
///
/// Each snapshot seizes the threads afresh and detaches at the end, so the
/// target is traced only while it is stopped: between snapshots its signals
/// (the recorder's SIGINT/SIGTERM handling) work as if no reader existed,
/// and if the reader dies the kernel detaches and resumes it.
///
/// Stopping: list `/proc/PID/task`, PTRACE_SEIZE and PTRACE_INTERRUPT every
/// thread not yet seized, and list again until no new thread shows up (a
/// thread created before its creator stopped appears in the next listing);
/// then wait for each thread's stop. A thread may report a signal-delivery
/// stop before the interrupt stop; it is stopped all the same, and the
/// signal is handed back to it when it is detached.
final class TargetFreeze {
    /// Threads one freeze can hold (the mutator has one).
    static let threadCapacity = 1024

    private let pid: Int32
    private let taskDirectory: ContiguousArray<CChar>
    private let threadRegion: PreallocatedRegion
    /// Seized threads and the signal each must get back on detach.
    private let threads: UnsafeMutableBufferPointer<FrozenThread>
    private var threadCount = 0

    struct FrozenThread {
        var tid: Int32
        var pendingSignal: Int32
        var stopped: Bool
    }

    init(pid: Int32) throws(RecordingError) {
        self.pid = pid
        taskDirectory = ContiguousArray("/proc/\(pid)/task".utf8CString)
        threadRegion = try PreallocatedRegion(
            byteCount: Self.threadCapacity * MemoryLayout<FrozenThread>.stride, purpose: "the frozen reader's thread table")
        threads = UnsafeMutableBufferPointer(
            rebasing: threadRegion.bytes.bindMemory(to: FrozenThread.self)[0..<Self.threadCapacity])
    }

    /// Stops every thread of the target. 0 once all are stopped, else the
    /// errno of what failed (the threads stopped so far are let go again).
    func stop() -> Int32 {
        threadCount = 0
        while true {
            let (added, failure) = seizeUnseizedThreads()
            if failure != 0 {
                resume()
                return failure
            }
            if added == 0 { break }
        }
        guard threadCount > 0 else { return ESRCH }
        for index in 0..<threadCount {
            let failure = waitForStop(&threads[index])
            if failure != 0 {
                resume()
                return failure
            }
        }
        return 0
    }

    /// Detaches every seized thread, handing back any signal it was stopped
    /// with. Detaching a stopped tracee resumes it. A thread not seen stopped
    /// yet (a failed `stop`) was interrupted: it is waited for first, since
    /// only a stopped tracee can be detached.
    func resume() {
        for index in 0..<threadCount {
            if !threads[index].stopped { _ = waitForStop(&threads[index]) }
            let thread = threads[index]
            guard thread.tid > 0 else { continue }  // exited while being stopped
            // ESRCH here means it exited meanwhile: nothing left to resume.
            _ = ptrace(.detach, thread.tid, data: UInt(thread.pendingSignal))
        }
        threadCount = 0
    }

    /// Seizes and interrupts the threads the current listing shows that are
    /// not seized yet: how many, and an errno if one could not be seized.
    private func seizeUnseizedThreads() -> (added: Int, failure: Int32) {
        guard let directory = taskDirectory.withUnsafeBufferPointer({ opendir($0.baseAddress!) }) else {
            return (0, Errno.afterFailedCall.rawValue)
        }
        defer { closedir(directory) }
        var added = 0
        while let entry = readdir(directory) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { Self.parseThreadID($0) }
            guard let tid, !isSeized(tid) else { continue }
            guard threadCount < threads.count else { return (added, E2BIG) }
            if let failure = ptrace(.seize, tid) {
                if failure == .noSuchProcess { continue }  // exited since the listing
                return (added, failure.rawValue)
            }
            threads[threadCount] = FrozenThread(tid: tid, pendingSignal: 0, stopped: false)
            threadCount += 1
            added += 1
            if let failure = ptrace(.interrupt, tid), failure != .noSuchProcess {
                return (added, failure.rawValue)
            }
        }
        return (added, 0)
    }

    private func isSeized(_ tid: Int32) -> Bool {
        for index in 0..<threadCount where threads[index].tid == tid { return true }
        return false
    }

    /// Waits until `thread` is in a ptrace stop. 0, or an errno.
    private func waitForStop(_ thread: inout FrozenThread) -> Int32 {
        while !thread.stopped {
            // EINTR (a stop signal for the reader) is retried: finish the stop first.
            let status: WaitStatus
            switch waitForProcess(thread.tid, options: .allThreads) {
            case .success(let changed?): status = changed
            case .success(nil): continue
            case .failure(.noChildProcess):  // exited and reaped elsewhere
                thread.stopped = true
                thread.tid = -1
                return 0
            case .failure(let code): return code.rawValue
            }
            guard status.isStopped else {
                // It exited: nothing left to stop or to detach.
                thread.stopped = true
                thread.tid = -1
                break
            }
            let event = status.ptraceEvent
            let signal = status.stopSignal
            if event != PtraceRequest.eventStop {
                // A signal-delivery stop: keep the signal for the detach.
                thread.pendingSignal = signal
            }
            thread.stopped = true
        }
        return 0
    }

    /// The thread id a `/proc/PID/task` entry names, nil for `.` and `..`.
    private static func parseThreadID(_ name: UnsafeRawBufferPointer) -> Int32? {
        var value: Int32 = 0
        var digits = 0
        for byte in name {
            if byte == 0 { break }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = shifted + Int32(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
