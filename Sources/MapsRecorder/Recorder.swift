import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Runs the experiment `configuration` describes and writes its trace.
///
/// Order of events (see docs/recording.md):
/// 1. checks (maps readable, the reader usable on this kernel,
///    vm.max_map_count, output file opened), stop handlers installed;
/// 2. everything the experiment needs is allocated and touched: page order,
///    mutation log, quiescent buffers, the reader's arguments;
/// 3. the arena is mapped between two guard pages and the workload's setup
///    runs;
/// 4. initial quiescent read; the reader starts; once it is about to open
///    the maps the workload's loop runs; final quiescent read;
/// 5. the reader is reaped, its log read back, the arena unmapped, the trace
///    written.
///
/// A SIGINT or SIGTERM stops the loop and the reader; the trace is still
/// written, marked interrupted, and the summary says which signal it was.
public func record(_ configuration: RecordingConfiguration) throws(RecordingError) -> RecordingSummary {
    var mask = sigset_t()
    pthread_sigmask(SIG_SETMASK, nil, &mask)
    defer {
        StopSignal.restore()
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }
    return try recordToTheEnd(configuration).summary
}

/// `record` for a process that exits right after it (`mapsrace record`):
/// the stop handlers stay installed and SIGINT and SIGTERM stay held back on
/// this thread from the moment the trailer was decided, so that the caller
/// can honour one that arrives after the trace was finished
/// (`FinishedRecording.lateStopSignal`, `markInterrupted`) up to its exit.
public func recordToTheEnd(_ configuration: RecordingConfiguration) throws(RecordingError) -> FinishedRecording {
    try configuration.validate()
    if case .failure(let code) = StopSignal.install() {
        throw .systemCallFailed("sigaction", errno: code.rawValue)
    }
    let recording = Recording(configuration)
    let summary = try recording.run()
    return FinishedRecording(summary: summary, recording: recording)
}

/// A finished recording, its trace published, while the process still runs.
public final class FinishedRecording {
    public private(set) var summary: RecordingSummary
    private let recording: Recording

    fileprivate init(summary: RecordingSummary, recording: Recording) {
        self.summary = summary
        self.recording = recording
    }

    /// A SIGINT or SIGTERM that arrived after the trailer was written (and
    /// so is not in it yet); 0 if none, or if the trace already says interrupted.
    public func lateStopSignal() -> Int32 {
        guard summary.signal == 0 else { return 0 }
        let received = StopSignal.received
        return received != 0 ? received : StopSignal.pending
    }

    /// Records `signal` in the finished trace: its trailer frame is written
    /// again, interrupted. Only a trace in a regular file can be (a streamed
    /// one has gone down the pipe already): false otherwise, or on a write
    /// error. The summary says interrupted either way.
    public func markInterrupted(by signal: Int32) -> Bool {
        summary.interrupted = true
        summary.signal = signal
        guard let output = recording.outputForRewrite, let writer = recording.writerForRewrite,
              var trailer = recording.writtenTrailer, case .replace = output.mode
        else { return false }
        trailer.interrupted = true
        trailer.signal = signal
        let frame = writer.standaloneFrame(for: trailer)
        let offset = recording.trailerOffset
        guard !frame.isEmpty,
              case .success = frame.withUnsafeBytes({ writeAll(output.descriptor, $0, at: Int(offset)) }),
              ftruncate(output.descriptor, off_t(offset) + off_t(frame.count)) == 0
        else { return false }
        summary.traceBytes = offset + UInt64(frame.count)
        return true
    }
}

/// One run of `record`: the state that lives from the checks to the trace.
private final class Recording {
    let configuration: RecordingConfiguration
    let kernel = KernelIdentity.current()
    let pageSize = MachineLimits.pageSize
    let originNs = MonotonicClock.now()
    let startWallClockNs = WallClock.now()
    let threadID = currentThreadID

    /// Extra map entries the preallocated buffers may add next to the arena's.
    static let preallocationMapEntries = 16
    /// Bytes of one arena line in the maps, rounded up ("7f...000-7f...000 ---p 00000000 00:00 0\n").
    static let arenaLineBytes = 64

    /// Set while the trace is written: where its trailer frame starts, and the trailer.
    var trailerOffset: UInt64 = 0
    var writtenTrailer: TraceTrailer?
    /// The stop signal the summary and the trailer report.
    var finalSignal: Int32 = 0

    init(_ configuration: RecordingConfiguration) {
        self.configuration = configuration
    }

    /// The five stages, in order; each hands the next what it made.
    /// The trace output and writer, kept open after publishing for `FinishedRecording`.
    var outputForRewrite: TraceOutput?
    var writerForRewrite: TraceWriter?

    func run() throws(RecordingError) -> RecordingSummary {
        let checked = try checkBeforeMapping()
        outputForRewrite = checked.output
        writerForRewrite = checked.writer
        let prepared = try preallocate(checked)
        var experiment = try runExperiment(prepared)
        let handover = collectReader(prepared, &experiment)
        return try writeAndSummarize(checked, prepared, experiment, handover)
    }

    /// What stage 1 learnt, and the trace output it opened.
    struct Preflight {
        var currentMaps: [UInt8]
        /// Size of /proc/self/smaps now, for a reader of smaps.
        var currentSmapsBytes: Int?
        var currentEntries: Int
        /// The most map entries the arena can take, guards included.
        var arenaEntries: Int
        var writer: TraceWriter?
        var output: TraceOutput?
    }

    /// What stage 2 allocated and touched before the arena exists.
    struct Preallocation {
        var mutator: any ArenaMutator
        var initialMaps: QuiescentBuffer
        var finalMaps: QuiescentBuffer
        var readerBuffer: ReaderBufferPlan
        var reader: ReaderSpawn
    }

    /// Stages 3 and 4: the arena (still mapped: the reader may still be
    /// reading), the loop's times, and whether the final read was complete.
    struct ExperimentRun {
        var arena: Arena?
        var arenaRecord: ArenaRecord
        var readerStarted: Bool
        var loopBegin: UInt64
        var loopEnd: UInt64
        var finalComplete: Bool
    }

    /// Stage 5: the reader's log, or why the reader failed, and the stop
    /// signal that ended the recording (0 if none).
    struct ReaderHandover {
        var readerLog: ReaderLog
        var readerFailure: RecordingError?
        var interruptSignal: Int32
    }

    /// 1. Checks, before anything is mapped: the maps readable, the reader
    /// usable on this kernel, vm.max_map_count, the output file opened.
    private func checkBeforeMapping() throws(RecordingError) -> Preflight {
        let pageCount = configuration.pageCount
        let currentMaps: [UInt8]
        switch readWholeFile(QuiescentBuffer.path) {
        case .success(let bytes): currentMaps = bytes
        case .failure(let failure): throw .mapsNotReadable(path: QuiescentBuffer.path, errno: failure.rawValue)
        }
        if let unusable = configuration.reader.unusableReason(pid: currentProcessID) { throw unusable }
        // smaps is measured as it is now (about 800 bytes per mapping where
        // maps has about 60), to size the reader's buffer for it.
        var currentSmapsBytes: Int?
        if configuration.reader.procfsFileName == "smaps" {
            let path = "/proc/self/smaps"
            switch readWholeFile(path) {
            case .success(let bytes): currentSmapsBytes = bytes.count
            case .failure(let failure): throw .mapsNotReadable(path: path, errno: failure.rawValue)
            }
        }
        let currentEntries = currentMaps.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        let arenaEntries = configuration.workload.maximumArenaLines(pageCount: pageCount) + 2
        let neededEntries = currentEntries + arenaEntries + Self.preallocationMapEntries
        if let limit = MachineLimits.maxMapCount(), neededEntries > limit {
            throw .arenaExceedsMapCount(limit: limit, needed: neededEntries, pages: pageCount)
        }
        // The trace is written beside its path and renamed over it once
        // finished: a failed recording leaves whatever was there untouched.
        var writer: TraceWriter?
        var output: TraceOutput?
        if configuration.logMutations {
            let opened = try TraceOutput.open(configuration.outputPath)
            do {
                writer = try TraceWriter(fileDescriptor: opened.descriptor, closeWhenFinished: false)
            } catch {
                throw .outputNotWritable(path: configuration.outputPath, reason: error.description)
            }
            output = opened
        }
        return Preflight(
            currentMaps: currentMaps, currentSmapsBytes: currentSmapsBytes, currentEntries: currentEntries,
            arenaEntries: arenaEntries, writer: writer, output: output)
    }

    /// 2. Preallocation: the workload's mutator and log, the quiescent
    /// buffers, the reader's buffer plan and its prepared spawn.
    private func preallocate(_ checked: Preflight) throws(RecordingError) -> Preallocation {
        let pageCount = configuration.pageCount
        let mutator = try configuration.workload.makeMutator(
            pageCount: pageCount, seed: configuration.seed, noReserve: configuration.noReserve,
            logMutations: configuration.logMutations)
        let quiescentCapacity = checked.currentMaps.count + (pageCount + 2) * Self.arenaLineBytes + (64 << 10)
        let initialMaps = try QuiescentBuffer(capacity: quiescentCapacity)
        let finalMaps = try QuiescentBuffer(capacity: quiescentCapacity)
        // Every snapshot is about one text of the file the reader reads (a
        // torn one repeats or drops a few lines), with the arena at the most
        // lines its workload ever gives it: for maps the current maps plus
        // 64 bytes for each ~49-byte arena line; for smaps the current smaps
        // plus the arena's lines at the current average entry size.
        let snapshotBytes: Int
        if let currentSmapsBytes = checked.currentSmapsBytes {
            let bytesPerEntry = (currentSmapsBytes + checked.currentEntries - 1) / max(checked.currentEntries, 1)
            snapshotBytes = currentSmapsBytes + checked.arenaEntries * bytesPerEntry + (64 << 10)
        } else {
            snapshotBytes = checked.currentMaps.count + checked.arenaEntries * Self.arenaLineBytes + (64 << 10)
        }
        let readerBuffer = testReaderBuffer()
            ?? configuration.reader.bufferPlan(
                snapshotBytes: snapshotBytes, snapshots: configuration.snapshotCount,
                limit: ReaderProcessConfiguration.maximumByteCapacity)
        let configuration = configuration
        let reader = try ReaderSpawn(
            executable: configuration.readerExecutable, externalCommand: configuration.externalReader
        ) { logFD, readyFD in
            var reader = ReaderProcessConfiguration(
                targetPID: currentProcessID, strategy: configuration.reader, snapshotCount: configuration.snapshotCount,
                logFD: logFD, readyFD: readyFD, byteCapacity: readerBuffer.capacityBytes,
                populatedBytes: readerBuffer.populatedBytes)
            reader.startDelayMilliseconds = configuration.testReaderDelayMilliseconds
            return reader
        }
        return Preallocation(
            mutator: mutator, initialMaps: initialMaps, finalMaps: finalMaps, readerBuffer: readerBuffer,
            reader: reader)
    }

    /// 3. The arena and the setup mutations; 4. the initial quiescent read,
    /// the reader started, the workload's loop once the reader is about to
    /// open the maps, the final quiescent read.
    private func runExperiment(_ prepared: Preallocation) throws(RecordingError) -> ExperimentRun {
        let mutator = prepared.mutator
        let arena = try Arena(pageCount: configuration.pageCount, pageSize: pageSize, noReserve: configuration.noReserve)
        let arenaRecord = ArenaRecord(start: arena.start, end: arena.end)
        let setupSucceeded = mutator.runSetup(on: arena)

        // The initial quiescent read (grown and retaken if the buffers were too small).
        while try prepared.initialMaps.read() == .bufferFilled {
            let bigger = prepared.initialMaps.capacity * 2
            try prepared.initialMaps.grow(to: bigger)
            try prepared.finalMaps.grow(to: bigger)
        }

        var readerStarted = false
        var loopBegin = MonotonicClock.now()
        var loopEnd = loopBegin
        if setupSucceeded && StopSignal.received == 0 {
            try prepared.reader.start()
            readerStarted = true
            if prepared.reader.waitUntilReady() == .ready {
                loopBegin = MonotonicClock.now()
                mutator.runLoop(on: arena)
                loopEnd = MonotonicClock.now()
            } else {
                loopBegin = MonotonicClock.now()
                loopEnd = loopBegin
            }
        }
        let finalComplete = try prepared.finalMaps.read() == .complete
        return ExperimentRun(
            arena: arena, arenaRecord: arenaRecord, readerStarted: readerStarted, loopBegin: loopBegin,
            loopEnd: loopEnd, finalComplete: finalComplete)
    }

    /// 5. Reaps the reader (stops it first after a stop signal), takes its
    /// log, then unmaps the arena.
    private func collectReader(_ prepared: Preallocation, _ experiment: inout ExperimentRun) -> ReaderHandover {
        let reader = prepared.reader
        let stopSignal = StopSignal.received
        var readerLog = ReaderLog(snapshots: [])
        var readerFailure: RecordingError?
        if experiment.readerStarted {
            let status = stopSignal != 0 ? reader.stop() : reader.reap()
            switch ReaderLog.read(fromFD: reader.logFD, strategy: configuration.readerName) {
            case .success(let log): readerLog = log
            case .failure(let failure):
                if StopSignal.received != 0 && status.killedByStopSignal {
                    // Asked to stop, and so was the reader: it has no snapshots
                    // to give, and that is not a failure.
                    break
                }
                readerFailure = status.exitedCleanly
                    ? failure : .readerFailed("\(status) without handing over its log")
            }
            if readerFailure == nil, !status.exitedCleanly, StopSignal.received == 0 {
                readerFailure = .readerFailed(status.description)
            }
        }
        experiment.arena = nil

        let interruptSignal = StopSignal.received
        if readerFailure == nil, let first = readerLog.snapshots.first,
            first.chunks.isEmpty, first.end.flags.contains(.failed)
        {
            readerFailure = .mapsNotReadable(path: "/proc/\(currentProcessID)/maps", errno: first.end.errno)
        }
        return ReaderHandover(readerLog: readerLog, readerFailure: readerFailure, interruptSignal: interruptSignal)
    }

    /// The trace written and published (also when a mutation failed: it
    /// holds the mutations up to that one), then the failure or the summary.
    private func writeAndSummarize(
        _ checked: Preflight, _ prepared: Preallocation, _ experiment: ExperimentRun, _ handover: ReaderHandover
    ) throws(RecordingError) -> RecordingSummary {
        let mutator = prepared.mutator
        let readerLog = handover.readerLog
        var traceBytes: UInt64?
        if checked.writer == nil { finalSignal = decideStopSignal(handover.interruptSignal) }
        if let writer = checked.writer {
            traceBytes = try writeTrace(
                to: writer, arena: experiment.arenaRecord, mutator: mutator, readerPID: prepared.reader.pid,
                initial: prepared.initialMaps, final: experiment.finalComplete ? prepared.finalMaps : nil,
                readerLog: readerLog, interruptSignal: handover.interruptSignal, loopBegin: experiment.loopBegin,
                loopEnd: experiment.loopEnd)
            finalSignal = writtenTrailer?.signal ?? handover.interruptSignal
        }

        if let failure = mutator.failure {
            // The error names the trace, which holds the mutations up to the failed one.
            try checked.output?.publish()
            throw .mutationFailed(
                sequence: UInt64(failure.sequence), kind: failure.kind, address: failure.address,
                length: failure.length, errno: failure.errno,
                trace: checked.writer == nil ? nil : configuration.outputPath)
        }
        if let readerFailure = handover.readerFailure { throw readerFailure }
        if !experiment.finalComplete {
            throw .systemCallFailed(
                "the final quiescent read (maps grew past \(prepared.finalMaps.capacity) bytes)",
                errno: Errno.noBufferSpace.rawValue)
        }
        try checked.output?.publish()

        var summary = RecordingSummary(
            trace: checked.writer == nil ? nil : configuration.outputPath, traceBytes: traceBytes,
            kernelRelease: kernel.release, workload: configuration.workload.rawValue, pages: configuration.pageCount,
            pageSize: pageSize, seed: configuration.seed,
            reader: configuration.externalReader.map { "external: " + $0.joined(separator: " ") }
                ?? configuration.reader.description,
            logMutations: configuration.logMutations, mutations: UInt64(mutator.issued),
            snapshots: UInt64(readerLog.snapshots.count), reads: UInt64(readerLog.readCount),
            bytesRead: UInt64(readerLog.bytesRead), mutatorLoopNs: experiment.loopEnd - experiment.loopBegin,
            interrupted: finalSignal != 0, signal: finalSignal,
            bufferFullSnapshots: UInt64(readerLog.snapshots.count { $0.end.flags.contains(.bufferFull) }),
            readerBufferBytes: UInt64(prepared.readerBuffer.capacityBytes))
        summary.stalePartialsRemoved = checked.output?.removedStalePartials ?? []
        summary.traceOnStandardOutput = checked.output?.isStandardOutput ?? false
        return summary
    }

    /// `testReaderBufferBytes` N: a reader buffer of N bytes (at least
    /// `minimumByteCapacity`), all of it faulted in, instead of the plan.
    private func testReaderBuffer() -> ReaderBufferPlan? {
        guard let bytes = configuration.testReaderBufferBytes, bytes > 0 else { return nil }
        let capacity = min(
            max(bytes, ReaderProcessConfiguration.minimumByteCapacity), ReaderProcessConfiguration.maximumByteCapacity)
        return ReaderBufferPlan(capacityBytes: capacity, populatedBytes: capacity)
    }

    /// Header, arena, initial maps, mutations, snapshots, final maps, trailer.
    private func writeTrace(
        to writer: TraceWriter, arena: ArenaRecord, mutator: any ArenaMutator, readerPID: pid_t,
        initial: QuiescentBuffer, final: QuiescentBuffer?, readerLog: ReaderLog, interruptSignal: Int32,
        loopBegin: UInt64, loopEnd: UInt64
    ) throws(RecordingError) -> UInt64 {
        let header = TraceHeader(
            toolVersion: configuration.toolVersion, kernelRelease: kernel.release, kernelVersion: kernel.version,
            machine: kernel.machine, pageSize: UInt64(pageSize), clockID: CLOCK_MONOTONIC,
            clockResolutionNs: MonotonicClock.resolution, startWallClockNs: startWallClockNs,
            originNs: originNs, mutatorPID: getpid(), readerPID: readerPID,
            workload: configuration.workload.rawValue,
            workloadParameters: [
                TraceParameter("pages", "\(configuration.pageCount)"),
                TraceParameter("noreserve", configuration.noReserve ? "1" : "0"),
                TraceParameter("guard_pages", "shared-anonymous"),
            ] + configuration.workload.traceParameters(pageCount: configuration.pageCount),
            reader: configuration.readerName,
            readerParameters: (configuration.externalReader.map { [TraceParameter("command", $0.joined(separator: " "))] }
                ?? configuration.reader.traceParameters)
                + [TraceParameter("snapshots", "\(configuration.snapshotCount)")],
            seed: configuration.seed)
        let lastMutationEnd = mutator.lastMutationEnd
        do {
            try writer.append(.header(header))
            try writer.append(.arena(arena))
            try writer.append(
                .quiescentMaps(QuiescentMaps(role: .initial, tBegin: initial.tBegin, tEnd: initial.tEnd, text: initial.text)))
            for mutation in mutator.mutationRecords(threadID: threadID) {
                try writer.append(.mutation(mutation))
            }
            var chunkCount: UInt64 = 0
            for snapshot in readerLog.snapshots {
                try writer.append(.snapshotBegin(snapshot.begin))
                for chunk in snapshot.chunks { try writer.append(.readChunk(chunk)) }
                chunkCount += UInt64(snapshot.chunks.count)
                var end = snapshot.end
                if snapshot.begin.tBegin > lastMutationEnd { end.flags.insert(.afterMutatorFinished) }
                try writer.append(.snapshotEnd(end))
                if let pause = snapshot.pause {
                    try writer.append(.pause(ReaderPause(
                        snapshot: end.index, tRequested: pause.tInterruptRequested,
                        tStopped: pause.tStoppedConfirmed, tResumed: pause.tResumed)))
                }
            }
            if let final {
                try writer.append(
                    .quiescentMaps(QuiescentMaps(role: .final, tBegin: final.tBegin, tEnd: final.tEnd, text: final.text)))
            }
            // The trailer gets a frame of its own, so that a stop signal that
            // comes after it was written can still be recorded in it (see
            // `FinishedRecording.markInterrupted`); the signal is decided last.
            try writer.endBlock()
            trailerOffset = writer.compressedBytesWritten
            let signal = decideStopSignal(interruptSignal)
            let trailer = TraceTrailer(
                mutations: UInt64(mutator.issued), snapshots: UInt64(readerLog.snapshots.count),
                readChunks: chunkCount, quiescentMaps: final == nil ? 1 : 2,
                interrupted: signal != 0, signal: signal,
                mutatorLoopBegin: loopBegin, mutatorLoopEnd: loopEnd)
            writtenTrailer = trailer
            try writer.append(.trailer(trailer))
            try writer.finish()
        } catch {
            throw .outputNotWritable(path: configuration.outputPath, reason: error.description)
        }
        return writer.compressedBytesWritten
    }

    /// The stop signal the recording ends with: the one that stopped it, or
    /// one that came since. From here on both signals are held back on this
    /// thread, so none can slip in between this decision and the trailer
    /// that records it; one that arrives later stays pending for
    /// `FinishedRecording.lateStopSignal`.
    func decideStopSignal(_ stoppedBy: Int32) -> Int32 {
        StopSignal.holdBack()
        if stoppedBy != 0 { return stoppedBy }
        let received = StopSignal.received
        return received != 0 ? received : StopSignal.pending
    }
}

