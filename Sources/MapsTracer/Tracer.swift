import MapsSystem
internal import CTracer
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// The syscalls the stop loop tells apart, by number on this architecture.
struct SyscallNumbers {
    let open = Int32(mapsrace_nr("open")), openat = Int32(mapsrace_nr("openat")), openat2 = Int32(mapsrace_nr("openat2"))
    let read = Int32(mapsrace_nr("read")), pread64 = Int32(mapsrace_nr("pread64"))
    let readv = Int32(mapsrace_nr("readv")), preadv = Int32(mapsrace_nr("preadv")), preadv2 = Int32(mapsrace_nr("preadv2"))
    let lseek = Int32(mapsrace_nr("lseek")), ioctl = Int32(mapsrace_nr("ioctl"))
    let dup = Int32(mapsrace_nr("dup")), dup2 = Int32(mapsrace_nr("dup2")), dup3 = Int32(mapsrace_nr("dup3"))
    let fcntl = Int32(mapsrace_nr("fcntl")), close = Int32(mapsrace_nr("close")), closeRange = Int32(mapsrace_nr("close_range"))
    let mmap = Int32(mapsrace_nr("mmap")), prctl = Int32(mapsrace_nr("prctl"))
    let execve = Int32(mapsrace_nr("execve")), execveat = Int32(mapsrace_nr("execveat"))
    let ptrace = Int32(mapsrace_nr("ptrace"))
    let shmat = Int32(mapsrace_nr("shmat"))
    let munmap = Int32(mapsrace_nr("munmap")), mprotect = Int32(mapsrace_nr("mprotect"))
    let pkeyMprotect = Int32(mapsrace_nr("pkey_mprotect")), mremap = Int32(mapsrace_nr("mremap"))
    let madvise = Int32(mapsrace_nr("madvise"))
    /// ioctl's request for PROCMAP_QUERY (ProcmapQueryTrace.swift).
    let procmapQuery = UInt64(mapsrace_procmap_query_request())

    func isOpen(_ n: Int32) -> Bool { n == open || n == openat || n == openat2 }
    func isRead(_ n: Int32) -> Bool { n == read || n == pread64 || n == readv || n == preadv || n == preadv2 }
    /// Whether a mutation's range (or an mremap's fixed destination) meets
    /// the fast path's pages: the trampoline and ring at their fixed
    /// addresses, within the 4 GiB above the trampoline (the largest ring is 2 GiB).
    func touchesFastPathPages(_ n: Int32, _ args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) -> Bool {
        guard n == munmap || n == mprotect || n == pkeyMprotect || n == mremap || n == madvise || n == mmap else {
            return false
        }
        let low = UInt64(MAPSRACE_TRAMPOLINE_ADDRESS), high = low + (1 << 32)
        func meets(_ start: UInt64, _ length: UInt64) -> Bool {
            let (end, wrapped) = start.addingReportingOverflow(length)
            return !wrapped && start < high && end > low
        }
        if meets(args.0, args.1) { return true }
        return n == mremap && args.3 & 2 != 0 && meets(args.4, args.2)  // MREMAP_FIXED
    }

    /// Operations that only matter on a maps descriptor (their first argument).
    func isDescriptorOperation(_ n: Int32) -> Bool {
        isRead(n) || n == lseek || n == ioctl || n == dup || n == dup2 || n == dup3 || n == fcntl || n == close
    }
}

/// Why tracing stopped before the command finished.
public enum TracerStop: Sendable, Equatable {
    /// SIGINT or SIGTERM to mapsrace: every tracee was killed.
    case signal(Int32)
    /// A documented limit was reached: every tracee was killed.
    case limit(TracerLimit)
}

public enum TracerLimit: Sendable, Equatable, CustomStringConvertible {
    case events(Int)
    case dataBytes(Int)
    case tracees(Int)

    public var description: String {
        switch self {
        case .events(let n): "the log holds at most \(n) events (--max-events)"
        case .dataBytes(let n): "the log holds at most \(n) bytes of maps data (--max-log-bytes)"
        case .tracees(let n): "at most \(n) tasks can be traced at once"
        }
    }
}

/// One open file description of a maps file, as the tracer follows it.
struct MapsDescription {
    var targetPID: Int32
    var targetGeneration: UInt32
    var readerPID: Int32
    var readerTID: Int32
    var fd: Int32
    var pathStart: Int
    var pathCount: Int
    /// The file offset (what read(2) would start at).
    var offset: UInt64 = 0
    /// The snapshot being read through it, -1 if none; the next chunk's
    /// sequence and the offset the pass has reached.
    var snapshot: Int32 = -1
    var nextChunk: UInt32 = 0
    var reached: UInt64 = 0
    var references: Int32 = 1
    /// The PROCMAP_QUERY walk going on through it (ProcmapQueryTrace.swift):
    /// its snapshot (-1 if none), where its next query must ask, its next chunk.
    var walk: Int32 = -1
    var walkNext: UInt64 = 0
    var walkChunk: UInt32 = 0
}

struct DescriptorEntry {
    var description: Int32
    var closeOnExec: Bool
}

final class TracedProcessState {
    let pid: Int32
    let parentPID: Int32
    var generation: UInt32
    var liveThreads = 0
    var execs: UInt32 = 0
    var commandStart = 0
    var commandCount = 0
    var tFirstSeen: UInt64
    var tExit: UInt64 = 0
    var waitStatus: Int32 = -1
    /// Its maps descriptors (other descriptors are not followed).
    var descriptors: [Int32: DescriptorEntry] = [:]
    var initialTaken = false
    /// The fast path (FastPath.swift): its address space holds a ring the
    /// preload mapped, shared with its vfork parent when `ringShared`.
    var hasRing = false
    var ringShared = false

    init(pid: Int32, parentPID: Int32, generation: UInt32, t: UInt64) {
        self.pid = pid
        self.parentPID = parentPID
        self.generation = generation
        tFirstSeen = t
    }
}

struct ThreadState {
    var pid: Int32
    /// The syscall whose exit stop is awaited: its number, arguments and entry time.
    var pending = false
    var number: Int32 = -1
    var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    var tBegin: UInt64 = 0
    /// For a maps operation: its description; for an open of a maps path,
    /// the target and where the path went in the data area.
    var description: Int32 = -1
    var openTarget: Int32 = 0
    var openGeneration: UInt32 = 0
    var pathStart = 0
    var pathCount = 0
    var readOffset: UInt64 = 0
    var fileDevice: UInt64 = 0
    var fileInode: UInt64 = 0
    var filePathStart = 0
    var filePathCount = -1
    /// A prctl(PR_SET_VMA_ANON_NAME): 0 not taken, 1 the name at `pathStart`, 2 NULL.
    var anonymousName: UInt8 = 0
    /// A PROCMAP_QUERY ioctl: the caller's struct copied at the entry stop.
    var query = ProcmapQuery()
    var queryCopied = false
    /// Seen stopped before its creator's event named it.
    var orphan = false
    var started = false
}

/// Follows a command and everything it forks under ptrace, stopping only at
/// the syscalls the seccomp filter traces (see CTracer), and logs maps reads
/// and mutations into a preallocated `TracerLog`.
final class TracerLoop {
    let log: TracerLog
    let numbers = SyscallNumbers()
    let maxTracees: Int
    var threads: [Int32: ThreadState] = [:]
    var processes: [Int32: TracedProcessState] = [:]
    /// Every process ever seen, in order, for the trace.
    var processOrder: [TracedProcessState] = []
    var descriptions: [MapsDescription] = []
    var snapshotCount: Int32 = 0
    var stop: TracerStop?
    let rootPID: Int32
    /// Called once, at the command's first successful execve (after the
    /// initial quiescent read), before it runs on.
    var onFirstExec: ((Int32) -> Void)?
    /// Children of mapsrace that are not tracees (a built-in reader), reaped
    /// by the loop's waitpid(-1): their wait statuses.
    var foreignExits: [Int32: Int32] = [:]
    /// The task stopped at the entry of ptrace(PTRACE_TRACEME), 0 if none.
    var tracemeCaller: Int32 = 0
    /// Tasks let go at their PTRACE_TRACEME (their parent traces them).
    var detachedTasks = 0
    /// Scratch memory for paths and iovec arrays read out of a tracee.
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: TracerLoop.scratchBytes, alignment: 16)
    /// The fast path's drains (FastPath.swift): records copied out of a
    /// ring, when all rings were last drained, records taken.
    let ringBuffer = UnsafeMutablePointer<mapsrace_ring_record>.allocate(capacity: TracerLoop.ringBufferRecords)
    var lastRingSweep: UInt64 = 0
    var drainTimerRunning = false
    var fastPathRecords = 0

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(log: TracerLog, rootPID: Int32, maxTracees: Int, now: UInt64) {
        self.log = log
        self.rootPID = rootPID
        self.maxTracees = maxTracees
        threads.reserveCapacity(maxTracees)
        processes.reserveCapacity(maxTracees)
        processOrder.reserveCapacity(maxTracees)
        descriptions.reserveCapacity(4096)
        let root = TracedProcessState(pid: rootPID, parentPID: 0, generation: 0, t: now)
        root.liveThreads = 1
        root.initialTaken = true  // the stub's address space is mapsrace's own; the command's starts at exec
        processes[rootPID] = root
        processOrder.append(root)
        threads[rootPID] = ThreadState(pid: rootPID, started: true)
    }

    deinit {
        scratch.deallocate()
        ringBuffer.deallocate()
    }

    // MARK: - The stop loop

    /// Runs until every tracee is gone. Returns the root's wait status.
    func run() {
        while true {
            if stop == nil, StopSignal.received != 0 { halt(.signal(StopSignal.received)) }
            let tid: pid_t
            let waited: WaitStatus
            switch waitForAnyChild(options: .allThreads, retryOnInterrupt: false) {
            case .success(let change): (tid, waited) = change
            case .failure(let code):
                if code == .interrupted {
                    sweepRings(now: monotonicNanoseconds())
                    continue
                }
                return  // no child left
            }
            let now = monotonicNanoseconds()
            if now &- lastRingSweep > TracerLoop.ringSweepIntervalNs { sweepRings(now: now) }
            guard waited.isStopped else {  // exited or killed
                if threads[tid] == nil { foreignExits[tid] = waited.rawValue }
                gone(tid, status: waited.rawValue, now: now)
                if threads.isEmpty { break }
                continue
            }
            let signal = waited.stopSignal
            let event = waited.ptraceEvent
            if threads[tid] == nil {
                // A new task's first stop before its creator's event. Its
                // attach stop is held until that event says whose task it is.
                // Any other first stop is let go at once: when a SIGKILL (ours
                // at `halt`, or anyone's) reaches the task before its creator
                // reported it, the creator never will, and the task's first
                // stop is its PTRACE_EVENT_EXIT, where holding it would leave
                // it (and this loop) waiting for ever.
                if stop == nil, event == Int32(MAPSRACE_EVENT_STOP) {
                    if threads.count >= maxTracees { halt(.limit(.tracees(maxTracees))) }
                    threads[tid] = ThreadState(pid: tid, orphan: true)
                } else {
                    resume(tid, MAPSRACE_PTRACE_CONT, event == 0 ? UInt(signal) : 0)
                }
                continue
            }
            if signal == SIGTRAP | 0x80 {
                syscallExit(tid, now: now)
                resume(tid, MAPSRACE_PTRACE_CONT, 0)
            } else if signal == SIGTRAP && event == Int32(MAPSRACE_EVENT_SECCOMP) {
                let wantsExit = syscallEntry(tid, now: now)
                if tracemeCaller == tid {
                    // ptrace(PTRACE_TRACEME): let it go, so that its parent
                    // (not mapsrace) becomes its tracer, as without mapsrace.
                    tracemeCaller = 0
                    _ = mapsrace_ptrace_request(Int32(MAPSRACE_PTRACE_DETACH_REQUEST), tid, 0, 0)
                    detachedTasks += 1
                    letGo(tid)
                    if threads.isEmpty { break }
                    continue
                }
                resume(tid, wantsExit ? MAPSRACE_PTRACE_SYSCALL : MAPSRACE_PTRACE_CONT, 0)
            } else if signal == SIGTRAP
                && (event == Int32(MAPSRACE_EVENT_FORK) || event == Int32(MAPSRACE_EVENT_VFORK)
                    || event == Int32(MAPSRACE_EVENT_CLONE))
            {
                created(by: tid, event: event, now: now)
                resume(tid, MAPSRACE_PTRACE_CONT, 0)
            } else if signal == SIGTRAP && event == Int32(MAPSRACE_EVENT_EXEC) {
                executed(tid, now: now)
                // The execve's exit stop follows.
                resume(tid, MAPSRACE_PTRACE_SYSCALL, 0)
            } else if signal == SIGTRAP && event == Int32(MAPSRACE_EVENT_EXIT) {
                exiting(tid, now: now)
                resume(tid, MAPSRACE_PTRACE_CONT, 0)
            } else if event == Int32(MAPSRACE_EVENT_STOP) {
                if signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU {
                    // A group stop: stay stopped, as without a tracer, until SIGCONT.
                    resume(tid, MAPSRACE_PTRACE_LISTEN, 0)
                } else {
                    firstStop(tid, now: now)
                    resume(tid, MAPSRACE_PTRACE_CONT, 0)
                }
            } else if event == 0 {
                // Signal-delivery stop: deliver it as without the tracer.
                resume(tid, MAPSRACE_PTRACE_CONT, UInt(signal))
            } else {
                resume(tid, MAPSRACE_PTRACE_CONT, 0)
            }
        }
    }

    @inline(__always) private func resume(_ tid: Int32, _ request: Int, _ signal: UInt) {
        // After `halt` too: a killed tracee still stops at PTRACE_EVENT_EXIT
        // and must be let go to die.
        _ = mapsrace_ptrace_request(Int32(request), tid, 0, signal)
    }

    /// Stops the recording: every tracee is killed (SIGKILL reaches them even
    /// while stopped); the loop then reaps them.
    func halt(_ reason: TracerStop) {
        guard stop == nil else { return }
        stop = reason
        for tid in threads.keys { _ = kill(tid, SIGKILL) }
        for process in processes.keys { _ = kill(process, SIGKILL) }
    }

    private func gone(_ tid: Int32, status: Int32, now: UInt64) {
        guard let thread = threads.removeValue(forKey: tid) else { return }
        if let process = processes[thread.pid] {
            if tid == process.pid {
                process.waitStatus = status
                if process.tExit == 0 { process.tExit = now }
                processes.removeValue(forKey: thread.pid)
            }
        }
    }

    /// A task detached at its PTRACE_TRACEME: no longer followed. Its
    /// process (if it is the leader) keeps wait status -1 and no exit time:
    /// it was still running when mapsrace let it go.
    private func letGo(_ tid: Int32) {
        guard let thread = threads.removeValue(forKey: tid) else { return }
        if let process = processes[thread.pid], tid == process.pid {
            processes.removeValue(forKey: thread.pid)
        } else {
            processes[thread.pid]?.liveThreads -= 1
        }
    }

    private func firstStop(_ tid: Int32, now: UInt64) {
        guard var thread = threads[tid], !thread.started else { return }
        thread.started = true
        threads[tid] = thread
        if let process = processes[thread.pid], process.pid == tid, !process.initialTaken {
            process.initialTaken = true
            quiescentRead(tid, process: process, role: .initial, now: now)
        }
    }

    private func created(by tid: Int32, event: Int32, now: UInt64) {
        guard let parent = threads[tid] else { return }
        var message: UInt = 0
        guard mapsrace_ptrace_request(Int32(MAPSRACE_PTRACE_GETEVENTMSG), tid, 0, UInt(bitPattern: withUnsafeMutablePointer(to: &message) { Int(bitPattern: $0) })) == 0 else { return }
        let child = Int32(truncatingIfNeeded: message)
        if threads.count >= maxTracees { halt(.limit(.tracees(maxTracees))); return }
        let kind: TracedForkKind =
            event == Int32(MAPSRACE_EVENT_CLONE) ? .thread : event == Int32(MAPSRACE_EVENT_VFORK) ? .vfork : .fork
        let wasOrphan = threads[child]?.orphan ?? false
        if kind == .thread {
            threads[child] = ThreadState(pid: parent.pid, started: wasOrphan)
            processes[parent.pid]?.liveThreads += 1
        } else {
            let process = TracedProcessState(
                pid: child, parentPID: parent.pid, generation: 0, t: now)
            process.liveThreads = 1
            // A forked process inherits its parent's maps descriptors.
            if let from = processes[parent.pid] {
                process.descriptors = from.descriptors
                for entry in from.descriptors.values { descriptions[Int(entry.description)].references += 1 }
                process.commandStart = from.commandStart
                process.commandCount = from.commandCount
            }
            processes[child] = process
            processOrder.append(process)
            threads[child] = ThreadState(pid: child, started: wasOrphan)
            if let from = processes[parent.pid] { inheritRing(child: process, parent: from, kind: kind) }
        }
        logEvent(TracerEvent(
            kind: .fork, pid: parent.pid, tid: tid, generation: processes[parent.pid]?.generation ?? 0,
            a0: UInt64(UInt32(bitPattern: child)), a1: UInt64(kind.rawValue), tBegin: now, tEnd: now))
        if wasOrphan {
            // Its first stop came first and left it stopped: take the first
            // read now, then let it run.
            if kind != .thread, let process = processes[child] {
                process.initialTaken = true
                quiescentRead(child, process: process, role: .initial, now: now)
            }
            resume(child, MAPSRACE_PTRACE_CONT, 0)
        }
    }

    private func executed(_ tid: Int32, now: UInt64) {
        var message: UInt = 0
        _ = mapsrace_ptrace_request(Int32(MAPSRACE_PTRACE_GETEVENTMSG), tid, 0, UInt(bitPattern: withUnsafeMutablePointer(to: &message) { Int(bitPattern: $0) }))
        let former = Int32(truncatingIfNeeded: message)
        // A non-leader's execve: the thread takes the pid over.
        if former != tid, let moved = threads.removeValue(forKey: former) {
            threads[tid] = moved
        }
        guard let thread = threads[tid], let process = processes[thread.pid] else { return }
        process.generation += 1
        process.execs += 1
        process.liveThreads = 1
        // The old address space and its ring are gone; the new image's preload maps another.
        process.hasRing = false
        process.ringShared = false
        // Close-on-exec maps descriptors go away.
        for (fd, entry) in process.descriptors where entry.closeOnExec {
            process.descriptors.removeValue(forKey: fd)
            release(entry.description, now: now)
        }
        var event = TracerEvent(
            kind: .exec, pid: process.pid, tid: tid, generation: process.generation,
            a0: UInt64(UInt32(bitPattern: former)), tBegin: now, tEnd: now)
        // The path of the new image, from the pending execve's argument.
        if thread.pending, thread.number == numbers.execve || thread.number == numbers.execveat {
            event.dataStart = thread.pathStart
            event.dataCount = thread.pathCount
            process.commandStart = thread.pathStart
            process.commandCount = thread.pathCount
        }
        logEvent(event)
        process.initialTaken = true
        quiescentRead(tid, process: process, role: .initial, now: now)
        if process.pid == rootPID && process.execs == 1, let onFirstExec {
            // The drain timer's SIGALRM must not interrupt the reader's start.
            pauseDrainTimer()
            onFirstExec(process.pid)
            resumeDrainTimer()
        }
    }

    private func exiting(_ tid: Int32, now: UInt64) {
        guard let thread = threads[tid], let process = processes[thread.pid] else { return }
        drainRingAtExit(process)
        process.liveThreads -= 1
        if process.liveThreads <= 0 || tid == process.pid {
            // Its mappings still exist; no other thread of it can run.
            quiescentRead(tid, process: process, role: .final, now: now)
            process.tExit = now
        }
    }

    // MARK: - Syscall stops

    /// At the seccomp stop: true when the syscall's exit stop is needed.
    private func syscallEntry(_ tid: Int32, now: UInt64) -> Bool {
        var info = mapsrace_syscall_stop()
        guard mapsrace_syscall_stop_info(tid, &info) == 0, info.op == UInt8(MAPSRACE_SYSCALL_INFO_SECCOMP),
            var thread = threads[tid], let process = processes[thread.pid]
        else { return false }
        let number = Int32(truncatingIfNeeded: info.nr)
        thread.number = number
        thread.args = info.args
        thread.tBegin = now
        thread.description = -1
        thread.filePathCount = -1
        thread.pathCount = 0
        thread.anonymousName = 0
        let fdArgument = Int32(truncatingIfNeeded: info.args.0)
        if number == numbers.ptrace {
            // PTRACE_TRACEME is 0; every other request is the caller tracing someone.
            if info.args.0 == 0 { tracemeCaller = tid }
            return false
        }
        if numbers.isDescriptorOperation(number) {
            guard let entry = process.descriptors[fdArgument] else { return false }
            thread.description = entry.description
            let description = descriptions[Int(entry.description)]
            thread.readOffset =
                number == numbers.pread64 || number == numbers.preadv || (number == numbers.preadv2 && Int64(bitPattern: info.args.3) != -1)
                ? info.args.3 : description.offset
            if number == numbers.ioctl && info.args.1 == numbers.procmapQuery {
                copyProcmapQuery(into: &thread, address: info.args.2, tid: tid)
            }
        } else if numbers.isOpen(number) {
            let pathAddress = number == numbers.open ? info.args.0 : info.args.1
            let directory = number == numbers.open ? AT_FDCWD : fdArgument
            guard let target = mapsTarget(pathAddress: pathAddress, directory: directory, pid: thread.pid, tid: tid)
            else { return false }
            thread.openTarget = target.pid
            thread.openGeneration = target.generation
            guard log.dataRoom >= target.length else { halt(.limit(.dataBytes(log.dataCapacity))); return false }
            log.dataEnd.copyMemory(from: scratch, byteCount: target.length)
            thread.pathStart = log.commitData(target.length)
            thread.pathCount = target.length
        } else if number == numbers.prctl {
            guard info.args.0 == 0x5356_4d41 else { return false }  // PR_SET_VMA
            if info.args.1 == 0 { anonymousName(at: info.args.4, tid: tid, into: &thread) }  // PR_SET_VMA_ANON_NAME
        } else if number == numbers.execve || number == numbers.execveat {
            // The last chance to take the old address space's ring.
            drainRing(process, final: false)
            let pathAddress = number == numbers.execve ? info.args.0 : info.args.1
            let length = cString(at: pathAddress, pid: tid)
            if length > 0, log.dataRoom >= length {
                log.dataEnd.copyMemory(from: scratch, byteCount: length)
                thread.pathStart = log.commitData(length)
                thread.pathCount = length
            }
        } else if number == numbers.mmap {
            let flags = Int32(truncatingIfNeeded: info.args.3)
            let fd = Int32(truncatingIfNeeded: info.args.4)
            if flags & MAP_ANONYMOUS == 0 && fd >= 0 { fileIdentity(pid: thread.pid, fd: fd, into: &thread) }
        }
        if process.hasRing, numbers.touchesFastPathPages(number, info.args) {
            // The preload gave up its fast path before this call (it may
            // unmap or replace the ring): take what the ring holds while it is there.
            drainRing(process, final: false)
        }
        thread.pending = true
        threads[tid] = thread
        return true
    }

    private func syscallExit(_ tid: Int32, now: UInt64) {
        guard var thread = threads[tid], thread.pending else { return }
        thread.pending = false
        threads[tid] = thread
        var info = mapsrace_syscall_stop()
        guard mapsrace_syscall_stop_info(tid, &info) == 0, info.op == UInt8(MAPSRACE_SYSCALL_INFO_EXIT) else { return }
        guard let process = processes[thread.pid] else { return }
        let failed = info.is_error != 0
        let result: Int64 = failed ? -1 : info.rval
        let error: Int32 = failed ? Int32(truncatingIfNeeded: -info.rval) : 0
        let number = thread.number
        var event = TracerEvent(
            kind: .syscall, pid: thread.pid, tid: tid, generation: process.generation, number: number,
            a0: thread.args.0, a1: thread.args.1, a2: thread.args.2, a3: thread.args.3, a4: thread.args.4,
            a5: thread.args.5, result: result, errno: error, tBegin: thread.tBegin, tEnd: now)
        event.description = thread.description
        event.fileDevice = thread.fileDevice
        event.fileInode = thread.fileInode
        event.filePathStart = thread.filePathStart
        event.filePathCount = thread.filePathCount
        if thread.anonymousName != 0 {
            event.anonymousName = thread.anonymousName
            event.dataStart = thread.pathStart
            event.dataCount = thread.pathCount
        }

        if numbers.isOpen(number) {
            event.dataStart = thread.pathStart
            event.dataCount = thread.pathCount
            if !failed {
                let fd = Int32(truncatingIfNeeded: result)
                let flags = number == numbers.open ? thread.args.1 : thread.args.2
                let cloexec: Bool
                if number == numbers.openat2 {
                    var how: UInt64 = 0
                    cloexec = mapsrace_read_tracee(tid, thread.args.2, &how, 8) == 8 && how & UInt64(O_CLOEXEC) != 0
                } else {
                    cloexec = flags & UInt64(O_CLOEXEC) != 0
                }
                closeDescriptor(fd, in: process, now: now)
                let index = Int32(descriptions.count)
                descriptions.append(MapsDescription(
                    targetPID: thread.openTarget, targetGeneration: thread.openGeneration, readerPID: thread.pid,
                    readerTID: tid, fd: fd, pathStart: thread.pathStart, pathCount: thread.pathCount))
                process.descriptors[fd] = DescriptorEntry(description: index, closeOnExec: cloexec)
                event.description = index
            }
        } else if thread.description >= 0 {
            mapsOperation(&event, thread: thread, process: process, now: now)
        } else if number == numbers.execve || number == numbers.execveat {
            event.dataStart = thread.pathStart
            event.dataCount = thread.pathCount
        } else if number == numbers.mmap, !failed {
            noteRingMapped(process, address: UInt64(bitPattern: result))
        } else if number == numbers.shmat, !failed {
            sharedMemorySegment(&event, pid: thread.pid)
        }
        logEvent(event)
    }

    /// A read, lseek, dup or close on a maps descriptor, at its exit stop.
    private func mapsOperation(_ event: inout TracerEvent, thread: ThreadState, process: TracedProcessState, now: UInt64) {
        let index = Int(thread.description)
        let number = thread.number
        let failed = event.errno != 0
        if number == numbers.ioctl && thread.args.1 == numbers.procmapQuery {
            procmapQueryExit(&event, thread: thread, index: index)
        } else if numbers.isRead(number) {
            let positional = number == numbers.pread64 || number == numbers.preadv
                || (number == numbers.preadv2 && Int64(bitPattern: thread.args.3) != -1)
            let offset = thread.readOffset
            var description = descriptions[index]
            // A read at offset 0 starts a pass; one that goes back ends the current one.
            if description.snapshot >= 0 && offset < description.reached {
                endSnapshot(index, flags: [], tEnd: event.tBegin)
                description = descriptions[index]
            }
            if description.snapshot < 0 && offset == 0 {
                description.snapshot = snapshotCount
                snapshotCount += 1
                description.nextChunk = 0
                description.reached = 0
            }
            event.offset = offset
            event.requested = requestedBytes(number: number, args: thread.args, tid: event.tid)
            if description.snapshot >= 0 && (offset == description.reached || description.nextChunk == 0) {
                event.snapshot = description.snapshot
                event.chunk = description.nextChunk
                description.nextChunk += 1
            }
            if !failed && event.result > 0 {
                let count = Int(event.result)
                guard log.dataRoom >= count else { halt(.limit(.dataBytes(log.dataCapacity))); return }
                let copied = copyReadData(number: number, args: thread.args, tid: event.tid, count: count)
                event.dataStart = log.commitData(copied)
                event.dataCount = copied
                if !positional { description.offset = offset + UInt64(count) }
                if event.snapshot >= 0 { description.reached = offset + UInt64(count) }
            }
            descriptions[index] = description
            if event.snapshot >= 0 {
                if failed {
                    event.a5 = 1  // ends its snapshot (see encoding)
                    descriptions[index].snapshot = -1
                } else if event.result == 0 {
                    descriptions[index].snapshot = -1
                }
            }
        } else if number == numbers.lseek {
            if !failed {
                let position = UInt64(bitPattern: event.result)
                if descriptions[index].snapshot >= 0 && position < descriptions[index].reached {
                    endSnapshot(index, flags: [], tEnd: event.tEnd)
                }
                descriptions[index].offset = position
            }
        } else if number == numbers.close {
            if !failed { closeDescriptor(Int32(truncatingIfNeeded: thread.args.0), in: process, now: now) }
        } else if number == numbers.dup || number == numbers.dup2 || number == numbers.dup3 || number == numbers.fcntl {
            if number == numbers.fcntl {
                let command = Int32(truncatingIfNeeded: thread.args.1)
                if command == F_SETFD, !failed {
                    process.descriptors[Int32(truncatingIfNeeded: thread.args.0)]?.closeOnExec = thread.args.2 & 1 != 0
                }
                guard command == F_DUPFD || command == F_DUPFD_CLOEXEC else { return }
            }
            guard !failed else { return }
            let newFD = Int32(truncatingIfNeeded: event.result)
            guard newFD != Int32(truncatingIfNeeded: thread.args.0) else { return }
            closeDescriptor(newFD, in: process, now: now)
            let cloexec = number == numbers.dup3 ? thread.args.2 & UInt64(O_CLOEXEC) != 0
                : number == numbers.fcntl ? Int32(truncatingIfNeeded: thread.args.1) == F_DUPFD_CLOEXEC : false
            process.descriptors[newFD] = DescriptorEntry(description: thread.description, closeOnExec: cloexec)
            descriptions[index].references += 1
        }
    }

    private func closeDescriptor(_ fd: Int32, in process: TracedProcessState, now: UInt64) {
        guard let entry = process.descriptors.removeValue(forKey: fd) else { return }
        release(entry.description, now: now)
    }

    private func release(_ description: Int32, now: UInt64) {
        let index = Int(description)
        descriptions[index].references -= 1
        if descriptions[index].references <= 0, descriptions[index].snapshot >= 0 {
            endSnapshot(index, flags: [], tEnd: now)
        }
        if descriptions[index].references <= 0 { endWalk(index, tEnd: now) }
    }

    /// Ends the pass through description `index` without end of file (close,
    /// backwards seek): logged as a zero-length marker event.
    private func endSnapshot(_ index: Int, flags: SnapshotFlags, tEnd: UInt64) {
        let description = descriptions[index]
        guard description.snapshot >= 0 else { return }
        var event = TracerEvent(
            kind: .syscall, pid: description.readerPID, tid: description.readerTID, generation: 0,
            number: -2, tBegin: tEnd, tEnd: tEnd)
        event.snapshot = description.snapshot
        event.description = Int32(index)
        logEvent(event)
        descriptions[index].snapshot = -1
    }

    @inline(__always) func logEvent(_ event: TracerEvent) {
        if log.append(event) == nil { halt(.limit(.events(log.eventCapacity))) }
    }

    // MARK: - Reading the tracee

    /// The NUL-terminated string at `address` in `pid`, copied into
    /// `scratch`: its length (0 if unreadable).
    private func cString(at address: UInt64, pid: Int32) -> Int {
        let got = mapsrace_read_tracee(pid, address, scratch, 4096)
        var readable = got
        if readable <= 0 {
            // The string may end before an unmapped page: read up to the page's end.
            let room = 4096 - Int(address & 4095)
            readable = mapsrace_read_tracee(pid, address, scratch, room)
            if readable <= 0 { return 0 }
        }
        let bytes = scratch.assumingMemoryBound(to: UInt8.self)
        for i in 0..<readable where bytes[i] == 0 { return i }
        return 0
    }

    /// Whether the path at `pathAddress` (relative to `directory`) names a
    /// maps or smaps file; if so, the process it names (and its generation)
    /// and the length of the path, made absolute (RelativeMapsPath), in `scratch`.
    private func mapsTarget(pathAddress: UInt64, directory: Int32, pid: Int32, tid: Int32) -> (pid: Int32, generation: UInt32, length: Int)? {
        var length = cString(at: pathAddress, pid: tid)
        guard length > 0 else { return nil }
        if scratch.load(as: UInt8.self) != 0x2f || length <= 6 || ProcMapsPath.parse(
            UnsafeBufferPointer(start: scratch.assumingMemoryBound(to: UInt8.self), count: length)) == nil
        {
            length = absoluteMapsPath(length: length, directory: directory, tid: tid)
        }
        guard length > 6 else { return nil }
        let path = UnsafeBufferPointer(start: scratch.assumingMemoryBound(to: UInt8.self), count: length)
        guard let parsed = ProcMapsPath.parse(path) else { return nil }
        var targetPID: Int32
        switch parsed.process {
        case .current, .currentThread: targetPID = pid
        case .id(let number): targetPID = threads[number]?.pid ?? number
        }
        let generation = processes[targetPID]?.generation ?? 0
        return (targetPID, generation, length)
    }

    private func requestedBytes(number: Int32, args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64), tid: Int32) -> UInt64 {
        if number == numbers.read || number == numbers.pread64 { return args.2 }
        let count = Int(min(args.2, 256))
        let got = mapsrace_read_tracee(tid, args.1, scratch, count * 16)
        guard got > 0 else { return 0 }
        let vectors = scratch.assumingMemoryBound(to: UInt64.self)
        var total: UInt64 = 0
        for i in 0..<(Int(got) / 16) { total &+= vectors[2 * i + 1] }
        return total
    }

    /// Copies `count` bytes a read returned out of the tracee into the data area.
    private func copyReadData(number: Int32, args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64), tid: Int32, count: Int) -> Int {
        let destination = log.dataEnd
        if number == numbers.read || number == numbers.pread64 {
            let got = mapsrace_read_tracee(tid, args.1, destination, count)
            return max(got, 0)
        }
        let vectorCount = Int(min(args.2, 256))
        let got = mapsrace_read_tracee(tid, args.1, scratch, vectorCount * 16)
        guard got > 0 else { return 0 }
        let vectors = scratch.assumingMemoryBound(to: UInt64.self)
        var copied = 0
        for i in 0..<(Int(got) / 16) where copied < count {
            let length = min(Int(vectors[2 * i + 1]), count - copied)
            let part = mapsrace_read_tracee(tid, vectors[2 * i], destination + copied, length)
            guard part > 0 else { break }
            copied += part
        }
        return copied
    }

    /// stat and readlink of /proc/PID/fd/FD at an mmap's entry stop.
    private func fileIdentity(pid: Int32, fd: Int32, into thread: inout ThreadState) {
        var path = ShortPath.proc(pid)
        path.append("/fd/")
        path.appendDecimal(UInt64(UInt32(bitPattern: fd)))
        path.withCString { buffer in
            var status = stat()
            guard stat(buffer, &status) == 0 else { return }
            thread.fileDevice = UInt64(status.st_dev)
            thread.fileInode = UInt64(status.st_ino)
            let room = min(log.dataRoom, 4096)
            let linked = readlink(buffer, log.dataEnd.assumingMemoryBound(to: CChar.self), room)
            if linked > 0 {
                thread.filePathStart = log.commitData(linked)
                thread.filePathCount = linked
            } else {
                thread.filePathStart = 0
                thread.filePathCount = 0
            }
        }
    }

    /// A prctl(PR_SET_VMA_ANON_NAME)'s name at its entry stop, copied into
    /// the data area (the kernel reads at most 80 bytes with the NUL).
    private func anonymousName(at address: UInt64, tid: Int32, into thread: inout ThreadState) {
        guard address != 0 else {
            thread.anonymousName = 2
            return
        }
        let length = min(cString(at: address, pid: tid), 255)
        guard log.dataRoom >= length else { halt(.limit(.dataBytes(log.dataCapacity))); return }
        log.dataEnd.copyMemory(from: scratch, byteCount: length)
        thread.pathStart = log.commitData(length)
        thread.pathCount = length
        thread.anonymousName = 1
    }

    /// At a successful shmat's exit stop: what its maps line will show. The
    /// segment's size and key from shmctl(IPC_STAT) (the tracer shares the
    /// tracee's IPC namespace and, as its user or root, may read it); the
    /// inode is the shmid, the path `/SYSV` + the key in 8 hex digits +
    /// ` (deleted)` (ipc/shm.c newseg); the device from a stat of the new
    /// mapping's /proc/PID/map_files entry (0:0 when not permitted).
    private func sharedMemorySegment(_ event: inout TracerEvent, pid: Int32) {
        let shmid = Int32(truncatingIfNeeded: event.a0)
        var segment = shmid_ds()
        guard shmctl(shmid, IPC_STAT, &segment) == 0, segment.shm_segsz > 0 else { return }
        let size = UInt64(segment.shm_segsz)
        let page = UInt64(TracerLoop.pageSize)
        let start = UInt64(bitPattern: event.result)
        let end = start &+ ((size &+ page &- 1) & ~(page &- 1))
        let key = UInt32(bitPattern: segment.shm_perm.__key)
        event.segmentSize = size
        event.fileInode = UInt64(UInt32(bitPattern: shmid))
        event.fileDevice = 0
        var mapFile = ShortPath.proc(pid)
        mapFile.append("/map_files/")
        mapFile.appendHex(start)
        mapFile.append("-")
        mapFile.appendHex(end)
        var status = stat()
        if mapFile.withCString({ stat($0, &status) }) == 0 { event.fileDevice = UInt64(status.st_dev) }
        // The path the maps line shows.
        var shown = ShortPath()
        shown.append("/SYSV")
        shown.appendHex(UInt64(key), minimumDigits: 8)
        shown.append(" (deleted)")
        guard log.dataRoom >= shown.count else { halt(.limit(.dataBytes(log.dataCapacity))); return }
        shown.copy(to: log.dataEnd)
        event.filePathStart = log.commitData(shown.count)
        event.filePathCount = shown.count
    }

    /// Reads /proc/TID/maps whole into the data area while the process
    /// cannot run (exec, first stop, last thread's exit).
    private func quiescentRead(_ tid: Int32, process: TracedProcessState, role: QuiescentRole, now: UInt64) {
        var path = ShortPath.proc(tid)
        path.append("/maps")
        let start = log.dataCount
        var count = 0
        var ok = false
        let tBegin = monotonicNanoseconds()
        path.withCString { buffer in
            let fd = open(buffer, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { Glibc.close(fd) }
            while true {
                let room = log.dataRoom - count
                guard room > 0 else { return }
                let got = Glibc.read(fd, log.data + start + count, min(room, 1 << 20))
                if got < 0 { if errno == EINTR { continue }; return }
                if got == 0 { ok = true; return }
                count += got
            }
        }
        guard ok else {
            if log.dataRoom - count <= 0 { halt(.limit(.dataBytes(log.dataCapacity))) }
            return
        }
        var event = TracerEvent(
            kind: .quiescent, pid: process.pid, tid: tid, generation: process.generation,
            a0: UInt64(role.rawValue), tBegin: tBegin, tEnd: monotonicNanoseconds())
        event.dataStart = log.commitData(count)
        event.dataCount = count
        logEvent(event)
    }
}

/// A /proc path that names a maps or smaps file.
enum ProcMapsPath {
    enum Process: Equatable {
        case current
        case currentThread
        case id(Int32)
    }

    /// Parses `/proc/(N|self|thread-self)[/task/T]/(maps|smaps)`.
    static func parse(_ path: UnsafeBufferPointer<UInt8>) -> (process: Process, smaps: Bool)? {
        var i = 0
        func take(_ literal: StaticString) -> Bool {
            var matched = true
            literal.withUTF8Buffer { bytes in
                guard i + bytes.count <= path.count else { matched = false; return }
                for (k, byte) in bytes.enumerated() where path[i + k] != byte { matched = false; return }
            }
            if matched { i += literal.utf8CodeUnitCount }
            return matched
        }
        func number() -> Int32? {
            var value: Int64 = 0
            let start = i
            while i < path.count, path[i] >= 48, path[i] <= 57, i - start < 10 {
                value = value * 10 + Int64(path[i] - 48)
                i += 1
            }
            return i > start && value <= Int64(Int32.max) ? Int32(value) : nil
        }
        guard take("/proc/") else { return nil }
        var process: Process
        if take("thread-self/") {
            process = .currentThread
        } else if take("self/") {
            process = .current
        } else if let n = number(), take("/") {
            process = .id(n)
        } else {
            return nil
        }
        if process != .currentThread, take("task/") {
            guard number() != nil, take("/") else { return nil }
        }
        let smaps: Bool
        if take("maps") { smaps = false } else if take("smaps") { smaps = true } else { return nil }
        return i == path.count ? (process, smaps) : nil
    }
}

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(truncatingIfNeeded: now.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: now.tv_nsec)
}
