import ArgumentParser
import MapsRecorder
import MapsTrace
import MapsSurvey
import MapsSystem
import MapsTracer

#if canImport(Glibc)
import Glibc
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run the race and record every mutation and every read(2) of the maps into a trace.",
        discussion: """
            The mutator is this process: it maps an arena of --pages pages between two \
            guard pages and runs the workload's loop inside it while a reader process \
            reads /proc/<pid>/maps --snapshots times. Every mapping syscall (mprotect, \
            mmap, munmap, mremap) and every read(2) is logged into preallocated memory \
            and written to the trace afterwards, for `mapsrace analyze`. SIGINT or \
            SIGTERM stops the recording early: the trace is still written, marked \
            interrupted (exit 130 or 143).

            Workloads (--workload, docs/recording.md):
              rolling      the seed's mprotect loop: page i read-write, page i-1 ---
              split-merge  an inner page of a 4-page mapping mmap'd read-write and back
              resize       3-page mappings mremap'd to 1 page in place and back to 3
              remap        a page mremap'd MAYMOVE|FIXED|DONTUNMAP into a mapping, then
                           mprotect'ed so that it merges back
              churn        1-4 page mappings mmap'd (random protection) or munmap'd
            rolling defaults to 65000 pages (the seed's), the others to 16384; every \
            loop scales with --pages.

            Exit codes: 20 the arena needs more map entries than vm.max_map_count, \
            21 maps not readable, 22 trace not writable, 23 reader process failed, \
            24 other recording failure, 64 usage (including --reader procmap-query on \
            a kernel without PROCMAP_QUERY).
            """
    )

    // Typed options with a transform show no default of their own: it is in the help text.
    // Optional so that `-- CMD` can tell whether it was given (case 2).
    @Option(
        name: .customLong("workload"),
        help: "The workload: rolling, split-merge, resize, remap or churn. (default: rolling)",
        transform: Workload.init(parsing:))
    var workloadOption: Workload?

    var workload: Workload { workloadOption ?? .rolling }

    @Option(help: "Pages in the arena (default: 65000 for rolling, 16384 for the others).")
    var pages: Int?

    @Flag(help: "Map the arena without MAP_NORESERVE.")
    var noNoreserve = false

    @Option(help: "Seed of the workload's random choices (random when not given).")
    var seed: UInt64?

    // Optional so that `-- CMD` can tell whether it was given (case 3).
    @Option(
        name: .customLong("reader"),
        help: ArgumentHelp(
            "How the reader process reads the maps, one of these: (default: chromium)",
            discussion: ReaderStrategy.catalogHelp()),
        transform: ReaderArgument.init)
    var readerOption: ReaderArgument?

    var reader: ReaderArgument { readerOption ?? .chromium }

    @Option(
        help: """
            Attempts per result with --reader retry-stable, 2 to 1000 (default 10): the \
            same as --reader retry-stable:N; refused with any other reader.
            """)
    var maxAttempts: Int?

    @Option(help: "Snapshots the reader takes, back to back.")
    var snapshots: Int = RecordingConfiguration.defaultSnapshotCount

    @Option(
        name: [.customShort("o"), .long],
        help: ArgumentHelp(
            "The trace file (default: <workload>-<reader>-seed<S>.mrtrace).",
            discussion: """
                A regular file (or a new name) is replaced atomically once the trace is finished; a \
                symlink is followed (its target is replaced, the link stays). A FIFO, a device or a \
                pipe (e.g. /dev/stdout) gets the trace streamed into it. A directory, a FIFO nobody \
                reads, or a path another running `record` is writing are refused before recording.
                """))
    var output: String?

    @Flag(help: "Run the same experiment without the mutator's logging: no trace, loop time only.")
    var noLog = false

    @Flag(help: "Print the summary as a JSON object (keys: docs/record-json.md).")
    var json = false

    @Option(help: "With -- CMD: the most events (syscalls, execs, forks) the tracer logs.")
    var maxEvents: Int = TracerConfiguration.defaultMaxEvents

    @Option(help: "With -- CMD: the most bytes of maps data (reads, quiescent texts) the tracer logs.")
    var maxLogBytes: Int = TracerConfiguration.defaultMaxDataBytes

    @Argument(
        parsing: .postTerminator,
        help: ArgumentHelp(
            "An unmodified program to record under the tracer (after --); see docs/recording.md.",
            valueName: "CMD"))
    var command: [String] = []

    /// Where `survey` learns how this recording ended: a RecordingOutcomeReport
    /// (exit status and message) written when the recording ends by itself.
    @Option(help: .private)
    var outcomeFile: String?

    /// For tests: the reader's byte buffer in bytes instead of the planned size.
    @Option(help: .private)
    var testReaderBufferBytes: Int?

    /// For tests: milliseconds the reader waits before its first snapshot.
    @Option(help: .private)
    var testReaderDelayMs: Int = 0

    /// For tests: milliseconds to wait after the trace was written and the
    /// summary printed, before the last look for a stop signal.
    @Option(help: .private)
    var testPauseAfterTraceMs: Int = 0

    /// With -- CMD: no preload library, every mutation stops (the fast path off).
    @Flag(help: .private)
    var noFastPath = false

    /// With -- CMD: records in each process's fast-path ring (a power of two,
    /// 2 ... 16777216), to test the full-ring fallback with a tiny one.
    @Option(help: .private)
    var fastPathRing: Int = FastPathLibrary.defaultRingRecords

    /// Which of the three `-- CMD` cases this is, nil without a command.
    enum TracedCase { case command, externalReader, externalMutator }
    var tracedCase: TracedCase? {
        guard !command.isEmpty else { return nil }
        if workloadOption != nil { return .externalReader }
        if readerOption != nil { return .externalMutator }
        return .command
    }

    func validate() throws {
        if output == "" { throw ValidationError("-o/--output needs a file name (got an empty one)") }
        if let tracedCase {
            if tracedCase == .externalReader && readerOption != nil {
                throw ValidationError("give --workload (the command is the reader) or --reader (the command is the mutator), not both")
            }
            if tracedCase == .externalReader, !command.contains(where: { $0.contains("{pid}") }) {
                throw ValidationError("with --workload, the command reads the workload's maps: put {pid} where its pid goes (e.g. -- pmap {pid})")
            }
            guard maxEvents >= 16, maxLogBytes >= 1 << 16 else {
                throw ValidationError("--max-events must be at least 16 and --max-log-bytes at least 65536")
            }
            guard fastPathRing >= 2, fastPathRing <= 1 << 24, fastPathRing & (fastPathRing - 1) == 0 else {
                throw ValidationError("--fast-path-ring must be a power of two from 2 to 16777216")
            }
        }
        if tracedCase == .command { return }
        let strategy = try readerStrategy()
        do {
            // The library's own bounds (pages, snapshots, the reader's tables):
            // the seed and output path do not take part.
            try RecordingConfiguration(
                workload: workload, pageCount: pages, seed: 0, reader: strategy,
                snapshotCount: snapshots, outputPath: "", toolVersion: mapsraceVersion
            ).validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// --reader, with --max-attempts folded in.
    func readerStrategy() throws -> ReaderStrategy {
        let strategy = reader.strategy
        guard let maxAttempts else { return strategy }
        guard case .retryStable(let attemptsFromName) = strategy else {
            throw ValidationError("--max-attempts applies only to --reader retry-stable (got --reader \(reader))")
        }
        let range = ReaderStrategy.maxAttemptsRange
        guard range.contains(maxAttempts) else {
            throw ValidationError(
                "--max-attempts must be from \(range.lowerBound) to \(range.upperBound) (got \(maxAttempts))")
        }
        if reader.text.contains(":") && attemptsFromName != maxAttempts {
            throw ValidationError("--reader \(reader) and --max-attempts \(maxAttempts) disagree; give the limit once")
        }
        return .retryStable(maxAttempts: maxAttempts)
    }

    func run() throws {
        switch tracedCase {
        case .command: return try runTraced()
        case .externalReader: return try runExternalReader()
        case .externalMutator:
            return try runTraced(reader: BuiltInReaderPlan(strategy: try readerStrategy(), snapshots: snapshots))
        case nil: break
        }
        let strategy = try readerStrategy()
        let finished: FinishedRecording
        do {
            var configuration = RecordingConfiguration(
                workload: workload, pageCount: pages, noReserve: !noNoreserve,
                seed: seed ?? RecordingConfiguration.randomSeed(), reader: strategy, snapshotCount: snapshots,
                outputPath: output, logMutations: !noLog, toolVersion: mapsraceVersion)
            configuration.testReaderBufferBytes = testReaderBufferBytes
            configuration.testReaderDelayMilliseconds = testReaderDelayMs
            finished = try recordToTheEnd(configuration)
        } catch {
            reportOutcome(exitStatus: error.exitStatus.rawValue, message: failureMessage(error))
            throw reportFailure(error)
        }
        let summary = finished.summary
        for stale in summary.stalePartialsRemoved {
            printError("mapsrace: removed \(stale), a partial trace left by a recording that no longer runs")
        }
        // With the trace on standard output, the summary goes to standard error.
        let summaryText = json ? summary.jsonText : Self.describe(summary)
        if summary.traceOnStandardOutput { printError(summaryText) } else { print(summaryText) }
        if let warning = Self.bufferFullWarning(summary, snapshotsAsked: snapshots) {
            printError(warning)
        }
        // A stop signal that came after the trailer was written (they are
        // held back since) is honoured too: the trace's trailer is written
        // again, marked interrupted, and the exit status is 130 or 143.
        if testPauseAfterTraceMs > 0 {
            fflush(nil)
            MonotonicClock.sleep(nanoseconds: UInt64(testPauseAfterTraceMs) * 1_000_000)
        }
        let late = finished.lateStopSignal()
        if late != 0 {
            let marked = finished.markInterrupted(by: late)
            let message = "signal \(late) arrived after the trace was written; "
                + (marked ? "the trace is now marked interrupted" : "the trace was streamed and cannot be marked")
            printError("mapsrace: " + message)
            reportOutcome(exitStatus: ExitStatus.interruptedCode(by: late), message: message)
            throw ExitStatus.interrupted(by: late)
        }
        if summary.interrupted {
            let message = "recording interrupted by signal \(summary.signal); the trace holds what was recorded"
            printError("mapsrace: " + message)
            reportOutcome(exitStatus: ExitStatus.interruptedCode(by: summary.signal), message: message)
            throw ExitStatus.interrupted(by: summary.signal)
        }
        reportOutcome(exitStatus: ExitStatus.done.rawValue, message: "")
    }

    /// `record -- CMD`: the command under the tracer; with `--reader R`
    /// (case 3), read by that built-in reader from its first exec on.
    func runTraced(reader plan: BuiltInReaderPlan? = nil) throws {
        var configuration = TracerConfiguration(command: command, maxEvents: maxEvents, maxDataBytes: maxLogBytes)
        configuration.maxTracees = TracerConfiguration.defaultMaxTracees
        if noFastPath { configuration.fastPathLibrary = nil }
        configuration.fastPathRingRecords = fastPathRing
        let name = command[0].split(separator: "/").last.map(String.init) ?? "command"
        let summary = try reportingFailures {
            try recordCommand(
                configuration, outputPath: output ?? "\(name).mrtrace", toolVersion: mapsraceVersion, reader: plan)
        }
        print(json ? tracedJSON(summary) : describeTraced(summary))
        if case .signal(let signal) = summary.stop {
            printError("mapsrace: recording interrupted by signal \(signal); the tracees were killed; the trace holds what was recorded")
            throw ExitStatus.interrupted(by: signal)
        }
    }

    /// `record --workload W -- CMD {pid}` (case 2): the built-in workload,
    /// read by CMD under the tracer once per snapshot.
    func runExternalReader() throws {
        _ = try reportingFailures { try resolveCommand(command[0]) }
        var configuration = RecordingConfiguration(
            workload: workload, pageCount: pages, noReserve: !noNoreserve,
            seed: seed ?? RecordingConfiguration.randomSeed(), snapshotCount: snapshots,
            outputPath: output, toolVersion: mapsraceVersion)
        configuration.externalReader = command
        if output == nil {
            let name = command[0].split(separator: "/").last.map(String.init) ?? "command"
            configuration.outputPath = "\(workload.rawValue)-\(name)-seed\(configuration.seed).mrtrace"
        }
        let summary = try reportingFailures { try record(configuration) }
        print(json ? summary.jsonText : Self.describe(summary))
        if summary.interrupted {
            printError("mapsrace: recording interrupted by signal \(summary.signal); the trace holds what was recorded")
            throw ExitStatus.interrupted(by: summary.signal)
        }
    }

    /// Writes the outcome report for `survey` when --outcome-file asks for one.
    private func reportOutcome(exitStatus: Int32, message: String) {
        guard let outcomeFile else { return }
        let report = RecordingOutcomeReport(exitStatus: exitStatus, message: message)
        guard let bytes = try? JSONOutput.encoded(report) else { return }
        _ = writeWholeFile(outcomeFile, bytes)
    }

    /// The stderr warning for a recording whose reader ran out of buffer, nil
    /// when none did.
    static func bufferFullWarning(_ summary: RecordingSummary, snapshotsAsked: Int) -> String? {
        guard summary.bufferFullSnapshots > 0 else { return nil }
        let size = summary.readerBufferBytes >= 1 << 20
            ? "\((summary.readerBufferBytes + (1 << 19)) >> 20) MiB" : "\(summary.readerBufferBytes) bytes"
        return "mapsrace: warning: the reader's buffer (\(size)) filled up: "
            + "\(summary.bufferFullSnapshots) snapshot(s) ended with bufferFull and the reader stopped "
            + (summary.reader == ReaderStrategy.retryStable(maxAttempts: 2).description
                ? "after \(summary.snapshots) attempts (\(snapshotsAsked) results asked for)"
                : "after \(summary.snapshots) of \(snapshotsAsked) snapshots")
            + "; ask for fewer --snapshots or --pages"
    }

    /// The one-screen summary.
    static func describe(_ summary: RecordingSummary) -> String {
        func decimal(_ value: UInt64, per unit: UInt64, digits: Int) -> String {
            var scale: UInt64 = 1
            for _ in 0..<digits { scale *= 10 }
            let scaled = (value * scale + unit / 2) / unit
            let fraction = String(scaled % scale)
            return "\(scaled / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        func megabytes(_ bytes: UInt64) -> String { decimal(bytes, per: 1_000_000, digits: 1) + " MB" }
        var lines = [
            "kernel        \(summary.kernelRelease)",
            "workload      \(summary.workload), \(summary.pages) pages of \(summary.pageSize) B, seed \(summary.seed)",
            "mutations     \(summary.mutations)" + (summary.logMutations ? " (logged)" : " (not logged: --no-log)"),
            "mutator loop  " + decimal(summary.mutatorLoopNs, per: 1_000_000, digits: 3) + " ms",
            "reader        \(summary.reader): \(summary.snapshots) snapshots, \(summary.reads) reads, "
                + "\(megabytes(summary.bytesRead)) read",
        ]
        if let trace = summary.trace {
            lines.append("trace         \(trace) (\(megabytes(summary.traceBytes ?? 0)))")
        } else {
            lines.append("trace         none (--no-log)")
        }
        if summary.bufferFullSnapshots > 0 {
            lines.append("buffer full   \(summary.bufferFullSnapshots) snapshot(s), reader buffer \(megabytes(summary.readerBufferBytes))")
        }
        if summary.interrupted {
            lines.append("interrupted   by signal \(summary.signal)")
        }
        return lines.joined(separator: "\n")
    }
}
