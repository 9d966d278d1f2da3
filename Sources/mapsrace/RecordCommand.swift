import ArgumentParser
import MapsRecorder
import MapsTrace
import MapsSurvey
import MapsSystem

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
    @Option(
        help: "The workload: rolling, split-merge, resize, remap or churn. (default: rolling)",
        transform: Workload.init(parsing:))
    var workload: Workload = .rolling

    @Option(help: "Pages in the arena (default: 65000 for rolling, 16384 for the others).")
    var pages: Int?

    @Flag(help: "Map the arena without MAP_NORESERVE.")
    var noNoreserve = false

    @Option(help: "Seed of the workload's random choices (random when not given).")
    var seed: UInt64?

    @Option(
        help: ArgumentHelp(
            "How the reader process reads the maps, one of these: (default: chromium)",
            discussion: ReaderStrategy.catalogHelp()),
        transform: ReaderArgument.init)
    var reader: ReaderArgument = .chromium

    @Option(
        help: """
            Attempts per result with --reader retry-stable, 2 to 1000 (default 10): the \
            same as --reader retry-stable:N; refused with any other reader.
            """)
    var maxAttempts: Int?

    @Option(help: "Snapshots the reader takes, back to back.")
    var snapshots: Int = RecordingConfiguration.defaultSnapshotCount

    @Option(name: [.customShort("o"), .long], help: "The trace file (default: <workload>-<reader>-seed<S>.mrtrace).")
    var output: String?

    @Flag(help: "Run the same experiment without the mutator's logging: no trace, loop time only.")
    var noLog = false

    @Flag(help: "Print the summary as a JSON object (keys: docs/record-json.md).")
    var json = false

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

    func validate() throws {
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
        let strategy = try readerStrategy()
        let summary: RecordingSummary
        do {
            var configuration = RecordingConfiguration(
                workload: workload, pageCount: pages, noReserve: !noNoreserve,
                seed: seed ?? RecordingConfiguration.randomSeed(), reader: strategy, snapshotCount: snapshots,
                outputPath: output, logMutations: !noLog, toolVersion: mapsraceVersion)
            configuration.testReaderBufferBytes = testReaderBufferBytes
            configuration.testReaderDelayMilliseconds = testReaderDelayMs
            summary = try record(configuration)
        } catch {
            reportOutcome(exitStatus: error.exitStatus.rawValue, message: failureMessage(error))
            throw reportFailure(error)
        }
        if json {
            print(summary.jsonText)
        } else {
            print(Self.describe(summary))
        }
        if let warning = Self.bufferFullWarning(summary, snapshotsAsked: snapshots) {
            printError(warning)
        }
        if summary.interrupted {
            let message = "recording interrupted by signal \(summary.signal); the trace holds what was recorded"
            printError("mapsrace: " + message)
            reportOutcome(exitStatus: ExitStatus.interruptedCode(by: summary.signal), message: message)
            throw ExitStatus.interrupted(by: summary.signal)
        }
        reportOutcome(exitStatus: ExitStatus.done.rawValue, message: "")
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
