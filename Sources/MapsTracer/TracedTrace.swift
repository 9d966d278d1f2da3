internal import CTracer
import MapsRecorder
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What `record -- CMD` reports.
public struct TracedRecordingSummary: Sendable {
    public var trace: String
    public var traceBytes: UInt64
    public var command: [String]
    public var processes: [TracedProcess]
    /// The root process's wait status (-1 if it was never reaped).
    public var waitStatus: Int32
    public var snapshots: Int
    public var reads: Int
    public var bytesRead: UInt64
    public var mutations: Int
    public var tracedSyscalls: Int
    /// Of those, the ones the fast path's ring logged (no stop).
    public var fastPathSyscalls: Int
    /// PROCMAP_QUERY ioctls on maps descriptors, and those of them in walks
    /// (snapshots); the rest are single queries.
    public var procmapQueries: Int
    public var procmapWalkQueries: Int
    /// The address space the snapshots are judged against, and the range modeled in it.
    public var targetPID: Int32
    public var targetGeneration: UInt32
    public var arena: ArenaRecord
    public var stop: TracerStop?
    public var tracedNs: UInt64

    /// How the command ended, in words.
    public var commandStatus: String {
        if waitStatus < 0 { return "not reaped" }
        if waitStatus & 0x7f == 0 { return "exited with status \((waitStatus >> 8) & 0xff)" }
        return "killed by signal \(waitStatus & 0x7f)"
    }
}

/// Traces `configuration.command` and writes the trace to `outputPath`.
public func recordCommand(
    _ configuration: TracerConfiguration, outputPath: String, toolVersion: String, reader: BuiltInReaderPlan? = nil
) throws(TracerError) -> TracedRecordingSummary {
    let originNs = monotonicNanoseconds()
    let wallNs = wallClock()
    // The same output rules as a workload recording (TraceOutput): atomic
    // replacement of a regular file, streaming into a FIFO, device or pipe,
    // a second recording to the same path refused, stale partials removed.
    let output: TraceOutput
    do {
        output = try TraceOutput.open(outputPath)
    } catch {
        if case .outputNotWritable(_, let reason) = error { throw .outputNotWritable(path: outputPath, reason: reason) }
        throw .outputNotWritable(path: outputPath, reason: error.description)
    }

    if case .failure(let code) = StopSignal.install() { throw .systemCallFailed("sigaction", errno: code.rawValue) }
    defer { StopSignal.restore() }
    var builtIn: BuiltInReader?
    var readerFailure: RecordingError?
    let run = try traceCommand(configuration, originNs: originNs) { loop in
        guard let reader else { return }
        // The built-in reader starts reading once the command has exec'd.
        loop.onFirstExec = { pid in
            do throws(RecordingError) {
                let started = try BuiltInReader(strategy: reader.strategy, targetPID: pid, snapshots: reader.snapshots)
                try started.start()
                builtIn = started
            } catch {
                readerFailure = error
            }
        }
    }
    guard let root = run.root else { throw .systemCallFailed("tracing", errno: ECHILD) }
    var external: ExternalSnapshots?
    if let builtIn {
        if let status = run.loop.foreignExits[builtIn.pid] { builtIn.adopt(waitStatus: status) }
        switch builtIn.finish(stopNow: run.loop.stop != nil) {
        case .success(let snapshots):
            external = ExternalSnapshots(snapshots: snapshots, readerPID: builtIn.pid, strategy: builtIn.strategy)
        case .failure(let failure): readerFailure = failure
        }
    }
    if let readerFailure { throw .readerFailed(readerFailure.description) }
    if run.loop.stop == nil, root.execs == 0 {
        // The stub could not execve the command (its message is above).
        throw .commandNotFound(configuration.command[0], reason: "execve failed (\(describe(root.waitStatus)))")
    }

    let encoded = TracedTraceEncoder(
        run: run, command: configuration.command, originNs: originNs, wallNs: wallNs, external: external)
    let bytes: UInt64
    do {
        let writer = try TraceWriter(fileDescriptor: output.descriptor, closeWhenFinished: false)
        try encoded.write(to: writer, toolVersion: toolVersion)
        try writer.finish()
        bytes = writer.compressedBytesWritten
    } catch {
        throw .outputNotWritable(path: outputPath, reason: error.description)
    }
    do {
        try output.publish()
    } catch {
        if case .outputNotWritable(_, let reason) = error { throw .outputNotWritable(path: outputPath, reason: reason) }
        throw .outputNotWritable(path: outputPath, reason: error.description)
    }
    let summary = encoded.summary(trace: outputPath, traceBytes: bytes)
    if case .limit(let limit) = run.loop.stop { throw .limitReached(limit, trace: outputPath) }
    if run.loop.stop == nil, summary.snapshots == 0 {
        let opened = run.log.eventBuffer.contains { $0.kind == .syscall && $0.description >= 0 }
        throw .noMapsRead(trace: outputPath, opened: opened, singleQueries: summary.procmapQueries)
    }
    return summary
}

func describe(_ status: Int32) -> String {
    if status < 0 { return "never reaped" }
    if status & 0x7f == 0 { return "exit status \((status >> 8) & 0xff)" }
    return "killed by signal \(status & 0x7f)"
}

func wallClock() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// `record --reader R -- CMD`: which built-in reader reads the command's maps.
public struct BuiltInReaderPlan: Sendable {
    public var strategy: ReaderStrategy
    public var snapshots: Int

    public init(strategy: ReaderStrategy, snapshots: Int) {
        self.strategy = strategy
        self.snapshots = snapshots
    }
}

/// What a built-in reader took of a traced command's maps.
struct ExternalSnapshots {
    var snapshots: [ExternalReaderSnapshot]
    var readerPID: Int32
    var strategy: ReaderStrategy
}

/// One snapshot put back together from the log's events.
struct AssembledSnapshot {
    var index: Int32
    var description: Int32
    var chunks: [Int] = []  // event indexes
    var endEvent: Int?
    var flags: SnapshotFlags = []
    var errno: Int32 = 0
    var tBegin: UInt64 = 0
    var tEnd: UInt64 = 0
    /// A PROCMAP_QUERY walk (its chunks are queries), not a pass of reads.
    var isWalk = false
}

/// Turns a finished `TracedRun` into trace records (after every tracee is gone).
struct TracedTraceEncoder {
    let run: TracedRun
    let command: [String]
    let originNs: UInt64
    let wallNs: Int64
    let snapshots: [AssembledSnapshot]
    let targetPID: Int32
    let targetGeneration: UInt32
    let arena: ArenaRecord
    let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    /// Snapshots a built-in reader took (`--reader R -- CMD`), instead of the command's own.
    let external: ExternalSnapshots?

    init(run: TracedRun, command: [String], originNs: UInt64, wallNs: Int64, external: ExternalSnapshots? = nil) {
        self.run = run
        self.external = external
        self.command = command
        self.originNs = originNs
        self.wallNs = wallNs
        let events = run.log.eventBuffer
        // Snapshots from the chunk and end-marker events.
        var byIndex: [Int32: AssembledSnapshot] = [:]
        for (i, event) in events.enumerated() where event.kind == .syscall && event.snapshot >= 0 {
            var snapshot = byIndex[event.snapshot] ?? AssembledSnapshot(index: event.snapshot, description: event.description)
            if event.number == -2 {
                snapshot.endEvent = i
                snapshot.tEnd = event.tEnd
            } else {
                if snapshot.chunks.isEmpty { snapshot.tBegin = event.tBegin }
                snapshot.chunks.append(i)
                snapshot.tEnd = event.tEnd
                if event.number == Self.ioctlNumber {
                    // A PROCMAP_QUERY walk: ENOENT is its end of file.
                    snapshot.isWalk = true
                    if event.errno == ENOENT {
                        snapshot.flags.insert(.reachedEOF)
                        snapshot.endEvent = i
                    } else if event.errno != 0 || event.dataCount < 2 * procmapQueryStructSize {
                        snapshot.flags.insert(.failed)
                        snapshot.errno = event.errno != 0 ? event.errno : EIO
                        snapshot.endEvent = i
                    }
                } else if event.errno != 0 {
                    snapshot.flags.insert(.failed)
                    snapshot.errno = event.errno
                    snapshot.endEvent = i
                } else if event.result == 0 {
                    snapshot.flags.insert(.reachedEOF)
                    snapshot.endEvent = i
                }
            }
            byIndex[event.snapshot] = snapshot
        }
        var ordered = byIndex.values.sorted { $0.index < $1.index }
        if run.loop.stop != nil {
            for i in ordered.indices where ordered[i].endEvent == nil { ordered[i].flags.insert(.interrupted) }
        }
        snapshots = ordered

        // The judged address space: the one most snapshots read (else the command's last).
        var counts: [Int64: Int] = [:]
        for snapshot in ordered {
            let d = run.loop.descriptions[Int(snapshot.description)]
            counts[Int64(d.targetPID) << 32 | Int64(d.targetGeneration), default: 0] += 1
        }
        if external != nil {
            targetPID = run.rootPID
            targetGeneration = 1
        } else if let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) {
            targetPID = Int32(truncatingIfNeeded: best.key >> 32)
            targetGeneration = UInt32(truncatingIfNeeded: best.key)
        } else {
            targetPID = run.rootPID
            targetGeneration = run.root?.generation ?? 0
        }
        arena = Self.modeledRange(
            events: events, pid: targetPID, generation: targetGeneration, pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The range the per-page model covers: the successful anonymous mmaps
    /// of the judged address space are joined where they overlap or touch,
    /// and the joined range that most mprotect, munmap and mremap calls fall
    /// in is modeled (a line that merges across an mmap's edge thus stays
    /// inside). A single page at 0 when there is none: nothing is then
    /// modeled, every line is unmodeled. The fast path's own trampoline
    /// page and ring (mapped by the preload's constructor, at their fixed
    /// addresses) are not the program's: they never count.
    static func modeledRange(events: UnsafeBufferPointer<TracerEvent>, pid: Int32, generation: UInt32, pageSize: UInt64) -> ArenaRecord {
        let mmap = Int32(mapsrace_nr("mmap")), mprotect = Int32(mapsrace_nr("mprotect"))
        let munmap = Int32(mapsrace_nr("munmap")), mremap = Int32(mapsrace_nr("mremap"))
        let pkeyMprotect = Int32(mapsrace_nr("pkey_mprotect"))
        func roundUp(_ value: UInt64) -> UInt64 { (value &+ pageSize &- 1) / pageSize &* pageSize }
        let mine = events.filter { $0.kind == .syscall && $0.pid == pid && $0.generation == generation && $0.errno == 0 }
        var ranges: [Range<UInt64>] = []
        for event in mine where event.number == mmap && Int32(truncatingIfNeeded: event.a3) & MAP_ANONYMOUS != 0 && event.a1 > 0 {
            let start = UInt64(bitPattern: event.result)
            if isFastPathMapping(event, at: start) { continue }
            let end = start &+ roundUp(event.a1)
            if end > start { ranges.append(start..<end) }
        }
        guard !ranges.isEmpty else { return ArenaRecord(start: 0, end: pageSize) }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var clusters: [Range<UInt64>] = [ranges[0]]
        for range in ranges.dropFirst() {
            let last = clusters[clusters.count - 1]
            if range.lowerBound <= last.upperBound {
                clusters[clusters.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                clusters.append(range)
            }
        }
        var hits = [Int](repeating: 0, count: clusters.count)
        for event in mine where event.number == mprotect || event.number == pkeyMprotect || event.number == munmap || event.number == mremap {
            if let i = clusters.firstIndex(where: { $0.contains(event.a0) }) { hits[i] += 1 }
        }
        let limit = UInt64(1) << 24 * pageSize  // the analysis's most arena pages
        let candidates = clusters.indices.filter { UInt64(clusters[$0].count) / pageSize <= limit / pageSize }
        guard let best = candidates.max(by: { hits[$0] < hits[$1] || (hits[$0] == hits[$1] && clusters[$0].count < clusters[$1].count) })
        else { return ArenaRecord(start: 0, end: pageSize) }
        return ArenaRecord(start: clusters[best].lowerBound, end: clusters[best].upperBound)
    }

    /// The preload's mmap of its trampoline page or its ring: at its fixed
    /// address, asked for there with MAP_FIXED_NOREPLACE.
    static func isFastPathMapping(_ event: TracerEvent, at start: UInt64) -> Bool {
        let fixedNoReplace: UInt64 = 0x100000  // MAP_FIXED_NOREPLACE
        return (start == MAPSRACE_TRAMPOLINE_ADDRESS || start == MAPSRACE_RING_ADDRESS) && event.a0 == start
            && event.a3 & fixedNoReplace != 0
    }

    private var isSmaps: Bool {
        guard let first = snapshots.first else { return false }
        let d = run.loop.descriptions[Int(first.description)]
        let path = run.log.string(d.pathStart, d.pathCount)
        return path.hasSuffix("smaps")
    }

    private func quiescent(_ role: QuiescentRole) -> TracerEvent? {
        let matching = run.log.eventBuffer.filter {
            $0.kind == .quiescent && $0.pid == targetPID && $0.generation == targetGeneration && $0.a0 == UInt64(role.rawValue)
        }
        return role == .initial ? matching.first : matching.last
    }

    func write(to writer: TraceWriter, toolVersion: String) throws(TraceError) {
        let log = run.log
        let kernel = kernelIdentity()
        let readerPID = external?.readerPID ?? snapshots.first.map { run.loop.descriptions[Int($0.description)].readerPID } ?? run.rootPID
        let header = TraceHeader(
            toolVersion: toolVersion, kernelRelease: kernel.0, kernelVersion: kernel.1, machine: kernel.2,
            pageSize: pageSize, clockID: CLOCK_MONOTONIC, clockResolutionNs: 1, startWallClockNs: wallNs,
            originNs: originNs, mutatorPID: targetPID, readerPID: readerPID, workload: "command",
            workloadParameters: [
                TraceParameter("command", command.joined(separator: " ")),
                TraceParameter("target_generation", "\(targetGeneration)"),
                TraceParameter("modeled", "anonymous mmap region"),
            ],
            reader: external?.strategy.description ?? "traced",
            readerParameters: external?.strategy.traceParameters ?? [TraceParameter("file", isSmaps ? "smaps" : "maps")],
            seed: 0)
        try writer.append(.header(header))
        try writer.append(.arena(arena))
        let initial = quiescent(.initial)
        if let initial {
            try writer.append(.quiescentMaps(QuiescentMaps(
                role: .initial, tBegin: initial.tBegin, tEnd: initial.tEnd,
                text: log.bytes(initial.dataStart, initial.dataCount))))
        }
        // Processes, execs, forks and every traced syscall, in the order they
        // returned (the fast path's records merged in by time: FastPath.swift).
        var sequence: UInt64 = 0
        var mutations = 0
        for index in Self.emissionOrder(log.eventBuffer) {
            let event = log.eventBuffer[index]
            switch event.kind {
            case .exec:
                try writer.append(.traced(.exec(TracedExec(
                    pid: event.pid, formerTID: Int32(truncatingIfNeeded: event.a0), t: event.tBegin,
                    generation: event.generation, path: log.string(event.dataStart, event.dataCount)))))
            case .fork:
                try writer.append(.traced(.fork(TracedFork(
                    kind: TracedForkKind(rawValue: UInt8(event.a1)) ?? .fork, parentPID: event.pid,
                    parentTID: event.tid, childTID: Int32(truncatingIfNeeded: event.a0), t: event.tBegin))))
            case .syscall:
                guard event.number >= 0 else { continue }
                let name = mapsrace_traced_syscall_name(Int(event.number)).map { String(cString: $0) } ?? "syscall-\(event.number)"
                if TracedTraceEncoder.mutationNames.contains(name) { mutations += 1 }
                try writer.append(.traced(.syscall(TracedSyscall(
                    sequence: sequence, pid: event.pid, tid: event.tid, generation: event.generation,
                    number: event.number, name: name,
                    arguments: [event.a0, event.a1, event.a2, event.a3, event.a4, event.a5],
                    result: event.result, errno: event.errno, tBegin: event.tBegin, tEnd: event.tEnd,
                    snapshot: event.snapshot, fastPath: event.fastPath))))
                if event.segmentSize > 0 {
                    let device = event.fileDevice
                    try writer.append(.traced(.sharedMemoryAttach(SharedMemoryAttach(
                        syscall: sequence, size: event.segmentSize, flags: UInt32(truncatingIfNeeded: event.a2),
                        deviceMajor: UInt32(truncatingIfNeeded: ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)),
                        deviceMinor: UInt32(truncatingIfNeeded: (device & 0xff) | ((device >> 12) & ~0xff)),
                        inode: event.fileInode, path: log.string(event.filePathStart, event.filePathCount)))))
                } else if event.anonymousName != 0 {
                    try writer.append(.traced(.anonymousName(AnonymousName(
                        syscall: sequence,
                        name: event.anonymousName == 1 ? log.string(event.dataStart, event.dataCount) : nil))))
                } else if event.filePathCount >= 0 {
                    let device = event.fileDevice
                    try writer.append(.traced(.fileIdentity(TracedFileIdentity(
                        syscall: sequence,
                        deviceMajor: UInt32(truncatingIfNeeded: ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)),
                        deviceMinor: UInt32(truncatingIfNeeded: (device & 0xff) | ((device >> 12) & ~0xff)),
                        inode: event.fileInode, path: log.string(event.filePathStart, event.filePathCount)))))
                }
                if isProcmapQuery(event) {
                    try writer.append(.traced(.procmapQuery(LoggedProcmapQuery(event, log: log).record(syscall: sequence, event: event))))
                }
                sequence += 1
            case .quiescent:
                // Every traced address space's quiescent texts, with whose they are.
                try writer.append(.traced(.addressSpaceMaps(addressSpaceMaps(event))))
            }
        }
        // Snapshots, each whole.
        var chunkCount: UInt64 = 0
        let lastMutationEnd = log.eventBuffer.reduce(UInt64(0)) { latest, event in
            event.kind == .syscall && event.pid == targetPID && event.generation == targetGeneration
                && TracedTraceEncoder.mutationNumbers.contains(event.number) ? max(latest, event.tEnd) : latest
        }
        if let external {
            for (i, snapshot) in external.snapshots.enumerated() {
                let index = UInt32(i)
                try writer.append(.snapshotBegin(SnapshotBegin(
                    index: index, tBegin: snapshot.tBegin, strategy: external.strategy.description)))
                for chunk in snapshot.chunks {
                    var numbered = chunk
                    numbered.snapshot = index
                    try writer.append(.readChunk(numbered))
                }
                chunkCount += UInt64(snapshot.chunks.count)
                var flags = snapshot.flags
                if snapshot.tBegin > lastMutationEnd { flags.insert(.afterMutatorFinished) }
                try writer.append(.snapshotEnd(SnapshotEnd(index: index, tEnd: snapshot.tEnd, flags: flags, errno: snapshot.errno)))
                try writer.append(.traced(.snapshotSource(SnapshotSource(
                    snapshot: index, readerPID: external.readerPID, readerTID: external.readerPID, targetPID: targetPID,
                    targetGeneration: targetGeneration, fd: -1,
                    path: "/proc/\(targetPID)/\(external.strategy.procfsFileName)"))))
            }
        }
        for snapshot in snapshots where external == nil {
            let index = UInt32(snapshot.index)
            try writer.append(.snapshotBegin(SnapshotBegin(index: index, tBegin: snapshot.tBegin, strategy: "traced")))
            var rendered: UInt64 = 0
            for (sequence, eventIndex) in snapshot.chunks.enumerated() {
                let event = log.eventBuffer[eventIndex]
                if snapshot.isWalk {
                    try writer.append(.readChunk(walkChunk(event, snapshot: index, sequence: UInt32(sequence), offset: &rendered)))
                    continue
                }
                try writer.append(.readChunk(ReadChunk(
                    snapshot: index, sequence: UInt32(sequence), offset: event.offset, requested: event.requested,
                    returned: event.errno != 0 ? -1 : Int64(event.dataCount), errno: event.errno,
                    tBegin: event.tBegin, tEnd: event.tEnd, bytes: log.bytes(event.dataStart, event.dataCount))))
            }
            chunkCount += UInt64(snapshot.chunks.count)
            var flags = snapshot.flags
            if snapshot.tBegin > lastMutationEnd { flags.insert(.afterMutatorFinished) }
            try writer.append(.snapshotEnd(SnapshotEnd(index: index, tEnd: snapshot.tEnd, flags: flags, errno: snapshot.errno)))
            let d = run.loop.descriptions[Int(snapshot.description)]
            try writer.append(.traced(.snapshotSource(SnapshotSource(
                snapshot: index, readerPID: d.readerPID, readerTID: d.readerTID, targetPID: d.targetPID,
                targetGeneration: d.targetGeneration, fd: d.fd, path: log.string(d.pathStart, d.pathCount)))))
        }
        let final = quiescent(.final)
        if let final {
            try writer.append(.quiescentMaps(QuiescentMaps(
                role: .final, tBegin: final.tBegin, tEnd: final.tEnd, text: log.bytes(final.dataStart, final.dataCount))))
        }
        for process in processRecords() { try writer.append(.traced(.process(process))) }
        let signal: Int32 = if case .signal(let s) = run.loop.stop { s } else { 0 }
        try writer.append(.trailer(TraceTrailer(
            mutations: 0, snapshots: UInt64(external?.snapshots.count ?? snapshots.count), readChunks: chunkCount,
            quiescentMaps: (initial == nil ? 0 : 1) + (final == nil ? 0 : 1), interrupted: run.loop.stop != nil,
            signal: signal, mutatorLoopBegin: run.tStart, mutatorLoopEnd: run.tEnd)))
    }

    /// Whether a logged syscall is a PROCMAP_QUERY on a followed maps descriptor.
    func isProcmapQuery(_ event: TracerEvent) -> Bool {
        event.kind == .syscall && event.number == Self.ioctlNumber && event.description >= 0
            && event.a1 == UInt64(mapsrace_procmap_query_request())
    }

    /// One query of a walk as the chunk the built-in `procmap-query` reader
    /// logs: `requested` the query address, the answer rendered as its maps
    /// line at `offset`, ENOENT a 0-byte chunk with errno 0.
    func walkChunk(_ event: TracerEvent, snapshot: UInt32, sequence: UInt32, offset: inout UInt64) -> ReadChunk {
        let logged = LoggedProcmapQuery(event, log: run.log)
        let line = event.errno == 0 ? logged.line ?? [] : []
        let failed = event.errno != 0 && event.errno != ENOENT || (event.errno == 0 && logged.answer == nil)
        let chunk = ReadChunk(
            snapshot: snapshot, sequence: sequence, offset: offset, requested: logged.query.query_addr,
            returned: failed ? -1 : Int64(line.count), errno: event.errno == ENOENT ? 0 : failed && event.errno == 0 ? EIO : event.errno,
            tBegin: event.tBegin, tEnd: event.tEnd, bytes: line)
        offset += UInt64(line.count)
        return chunk
    }

    /// A quiescent read of any traced address space, as its record.
    func addressSpaceMaps(_ event: TracerEvent) -> AddressSpaceMaps {
        AddressSpaceMaps(
            pid: event.pid, generation: event.generation, role: QuiescentRole(rawValue: UInt8(event.a0)) ?? .initial,
            tBegin: event.tBegin, tEnd: event.tEnd, text: run.log.bytes(event.dataStart, event.dataCount))
    }

    static let ioctlNumber = Int32(mapsrace_nr("ioctl"))

    static let mutationNames: Set<String> = [
        "mmap", "munmap", "mprotect", "pkey_mprotect", "mremap", "brk", "shmat", "shmdt", "madvise", "mlock", "mlock2",
        "munlock", "mlockall", "munlockall", "prctl", "execve", "execveat",
    ]
    static let mutationNumbers: Set<Int32> = Set(mutationNames.compactMap {
        let n = mapsrace_nr($0)
        return n >= 0 ? Int32(n) : nil
    })

    func processRecords() -> [TracedProcess] {
        var roles: [Int32: TracedProcessRoles] = [:]
        for snapshot in snapshots {
            let d = run.loop.descriptions[Int(snapshot.description)]
            roles[d.readerPID, default: []].insert(.reader)
            roles[d.targetPID, default: []].insert(.read)
        }
        if external != nil { roles[targetPID, default: []].insert(.read) }
        for event in run.log.eventBuffer where event.kind == .syscall && event.errno == 0
            && Self.mutationNumbers.contains(event.number)
        {
            roles[event.pid, default: []].insert(.mutator)
        }
        return run.loop.processOrder.map { p in
            TracedProcess(
                pid: p.pid, parentPID: p.parentPID, tFirstSeen: p.tFirstSeen, tExit: max(p.tExit, p.tFirstSeen),
                waitStatus: p.waitStatus, execs: p.execs, roles: roles[p.pid] ?? [],
                command: run.log.string(p.commandStart, p.commandCount))
        }
    }

    func summary(trace: String, traceBytes: UInt64) -> TracedRecordingSummary {
        let chunks = snapshots.flatMap(\.chunks).map { run.log.eventBuffer[$0] }
        let externalChunks = external?.snapshots.flatMap(\.chunks) ?? []
        let mutations = run.log.eventBuffer.count { $0.kind == .syscall && Self.mutationNumbers.contains($0.number) }
        return TracedRecordingSummary(
            trace: trace, traceBytes: traceBytes, command: command, processes: processRecords(),
            waitStatus: run.root?.waitStatus ?? -1, snapshots: external?.snapshots.count ?? snapshots.count,
            reads: external == nil ? chunks.count : externalChunks.count,
            bytesRead: external == nil
                ? chunks.reduce(0) { total, event in
                    total + UInt64(isProcmapQuery(event) ? LoggedProcmapQuery(event, log: run.log).line?.count ?? 0 : event.dataCount)
                }
                : externalChunks.reduce(0) { $0 + UInt64($1.bytes.count) },
            mutations: mutations,
            tracedSyscalls: run.log.eventBuffer.count { $0.kind == .syscall && $0.number >= 0 },
            fastPathSyscalls: run.log.eventBuffer.count { $0.fastPath },
            procmapQueries: run.log.eventBuffer.count { isProcmapQuery($0) },
            procmapWalkQueries: run.log.eventBuffer.count { isProcmapQuery($0) && $0.snapshot >= 0 },
            targetPID: targetPID, targetGeneration: targetGeneration, arena: arena, stop: run.loop.stop,
            tracedNs: run.tEnd - run.tStart)
    }
}

func kernelIdentity() -> (String, String, String) {
    var names = utsname()
    guard uname(&names) == 0 else { return ("unknown", "unknown", "unknown") }
    func text<T>(_ field: T) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
    return (text(names.release), text(names.version), text(names.machine))
}
