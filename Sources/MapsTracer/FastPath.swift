internal import CTracer
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

// The fast path (docs/recording.md, "The fast path"): the preload library
// (Sources/MapsracePreload) makes the hot mutations from a trampoline the
// seccomp filter lets through without a stop, and logs them into a ring at a
// fixed address in the tracee. Here the tracer takes those records out with
// process_vm_readv: every few milliseconds, at execve's entry stop (before the
// old address space goes), in a forked child (whose copy of the ring holds the
// parent's records: skipped), and at every thread's exit (the mappings still
// exist; at the last thread's, records past a slot that will never be
// committed are taken too). Everything the preload does not take stops as
// before, so a process without the library loses nothing.

/// Where the preload library is and how big its rings are.
public enum FastPathLibrary {
    /// The library's file name, next to the mapsrace executable.
    public static let fileName = "libmapsrace-preload.so"
    /// The environment variable through which the tracer hands the library
    /// to the `_traced-exec` stub (which moves it into LD_PRELOAD).
    public static let stubVariable = "MAPSRACE_FAST_PATH_PRELOAD"
    /// The ring-size variable the preload reads (records, a power of two).
    public static let ringVariable = MAPSRACE_RING_RECORDS_VARIABLE
    public static let defaultRingRecords = Int(MAPSRACE_RING_DEFAULT_RECORDS)

    /// `libmapsrace-preload.so` in the directory of the running executable,
    /// if it is there (SwiftPM builds it next to `mapsrace`).
    public static func locate() -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let length = readlink("/proc/self/exe", &buffer, 4096)
        guard length > 0 else { return nil }
        let executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = executable.lastIndex(of: "/") else { return nil }
        let candidate = String(executable[..<slash]) + "/" + fileName
        return access(candidate, R_OK) == 0 ? candidate : nil
    }

    /// In the stub, before its execve: the library named by `stubVariable`
    /// goes at the end of LD_PRELOAD (after the user's own), and the variable
    /// itself goes away.
    public static func moveIntoPreload() {
        guard let named = getenv(stubVariable) else { return }
        let library = String(cString: named)
        unsetenv(stubVariable)
        guard !library.isEmpty else { return }
        if let existing = getenv("LD_PRELOAD"), existing.pointee != 0 {
            setenv("LD_PRELOAD", String(cString: existing) + ":" + library, 1)
        } else {
            setenv("LD_PRELOAD", library, 1)
        }
    }
}

extension TracerLoop {
    /// Records copied out of a ring per process_vm_readv.
    static let ringBufferRecords = 4096
    /// How often every ring is drained while the tracees run.
    static let ringSweepIntervalNs: UInt64 = 2_000_000
    static let drainTimerMicroseconds = 2000

    /// The preload's mmap of the ring (a traced syscall) returned: this
    /// address space has a ring from now on.
    func noteRingMapped(_ process: TracedProcessState, address: UInt64) {
        guard address == mapsrace_ring_address() else { return }
        process.hasRing = true
        process.ringShared = false
        // The tracee is stopped at the mmap's exit: its constructor has not
        // written the header yet. A drain now must find "not valid yet" and
        // keep the ring (a timer drain can land in that window at any time;
        // doing it here makes every traced process take that path once).
        drainRing(process, final: false)
    }

    /// A new process: a fork's child has a private copy of its parent's ring
    /// (the parent's records in it are skipped: they are taken from the
    /// parent); a vfork child shares its parent's.
    func inheritRing(child: TracedProcessState, parent: TracedProcessState, kind: TracedForkKind) {
        guard parent.hasRing else { return }
        switch kind {
        case .vfork:
            child.hasRing = true
            child.ringShared = true
        case .fork:
            // A parent whose header is not valid yet has no records to skip.
            child.hasRing = mapsrace_ring_skip_inherited(child.pid) != -1
        case .thread:
            break
        }
    }

    /// Drains every ring (timer ticks and every few milliseconds of stops).
    func sweepRings(now: UInt64) {
        lastRingSweep = now
        for process in processes.values where process.hasRing { drainRing(process, final: false) }
    }

    /// At a thread's PTRACE_EVENT_EXIT: its records are committed; at the
    /// last thread's, nothing of the process runs any more.
    func drainRingAtExit(_ process: TracedProcessState) {
        guard process.hasRing else { return }
        drainRing(process, final: process.liveThreads <= 1 && !process.ringShared)
    }

    /// Takes the committed records of `process`'s ring into the log, as
    /// traced-syscall events marked `fastPath`.
    func drainRing(_ process: TracedProcessState, final: Bool) {
        guard process.hasRing else { return }
        let room = TracerLoop.ringBufferRecords
        while true {
            var first: UInt64 = 0
            let taken = mapsrace_ring_drain(process.pid, ringBuffer, room, final ? 1 : 0, &first)
            guard taken >= 0 else {
                // Unreadable: gone, or unmapped (stop looking). Not valid
                // (yet: the constructor writes the header after its mmap
                // returned): look again at the next drain.
                if taken == -1 { process.hasRing = false }
                return
            }
            for i in 0..<taken {
                let record = ringBuffer[i]
                let tid = Int32(bitPattern: record.tid)
                // A vfork child writes into its parent's ring: by tid.
                let pid = threads[tid]?.pid ?? process.pid
                let generation = processes[pid]?.generation ?? process.generation
                let raw = record.result
                let failed = raw < 0 && raw > -4096
                var event = TracerEvent(
                    kind: .syscall, pid: pid, tid: tid, generation: generation, number: Int32(bitPattern: record.number),
                    a0: record.args.0, a1: record.args.1, a2: record.args.2, a3: record.args.3, a4: record.args.4,
                    a5: record.args.5, result: failed ? -1 : raw, errno: failed ? Int32(-raw) : 0,
                    tBegin: record.t_begin, tEnd: max(record.t_end, record.t_begin))
                event.fastPath = true
                logEvent(event)
                fastPathRecords += 1
            }
            if taken < room { return }
        }
    }

    func startDrainTimer() {
        drainTimerRunning = mapsrace_drain_timer_start(TracerLoop.drainTimerMicroseconds) == 0
        if !drainTimerRunning { mapsrace_drain_timer_stop() }
    }

    func stopDrainTimer() {
        if drainTimerRunning { mapsrace_drain_timer_stop() }
        drainTimerRunning = false
    }

    func pauseDrainTimer() { if drainTimerRunning { mapsrace_drain_timer_pause() } }
    func resumeDrainTimer() { if drainTimerRunning { _ = mapsrace_drain_timer_start(TracerLoop.drainTimerMicroseconds) } }
}

extension TracedTraceEncoder {
    /// The order events are written in: the log's order for everything
    /// logged at a stop (as without the fast path), with the fast path's
    /// records, which reach the log late (at a drain), put back where they
    /// returned: sorted by their end time, each placed before the first
    /// stop-logged event that returned after it. Without fast-path records,
    /// exactly the log's order.
    static func emissionOrder(_ events: UnsafeBufferPointer<TracerEvent>) -> [Int] {
        var stopped: [Int] = []
        var fast: [Int] = []
        stopped.reserveCapacity(events.count)
        for i in events.indices {
            if events[i].fastPath { fast.append(i) } else { stopped.append(i) }
        }
        guard !fast.isEmpty else { return stopped }
        fast.sort { a, b in
            let x = events[a], y = events[b]
            return x.tEnd != y.tEnd ? x.tEnd < y.tEnd : x.tBegin != y.tBegin ? x.tBegin < y.tBegin : a < b
        }
        var order: [Int] = []
        order.reserveCapacity(events.count)
        var next = 0
        var reached: UInt64 = 0
        for i in stopped {
            reached = max(reached, events[i].tEnd)
            while next < fast.count, events[fast[next]].tEnd < reached {
                order.append(fast[next])
                next += 1
            }
            order.append(i)
        }
        order.append(contentsOf: fast[next...])
        return order
    }
}
