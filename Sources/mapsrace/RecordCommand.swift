import ArgumentParser
import MapsRecorder

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run the race and record every mutation and every read(2) of the maps into a trace.",
        discussion: """
            The mutator is this process: it maps an arena of --pages pages and runs the workload's \
            loop inside it while a reader process reads /proc/<pid>/maps --snapshots times. Every \
            mapping syscall (mprotect, mmap, munmap, mremap) and every read(2) is logged into \
            preallocated memory and written to the trace afterwards. SIGINT or SIGTERM stops the \
            recording early: the trace is still written, marked interrupted (exit 130 or 143).

            Workloads (docs/recording.md): rolling (the seed's rolling mprotect, 1 or 2 read-write \
            pages at every instant; default 65000 pages), split-merge (a page of a 4-page mapping \
            mmap'd read-write and back), resize (3-page mappings mremap'd to 1 page and back), \
            remap (a page mremap'd with MAYMOVE|FIXED|DONTUNMAP into the middle of a mapping, then \
            mprotect'ed back), churn (1-4 page mappings mmap'd and munmap'd at random); the last \
            four default to 16384 pages, and their loops scale with --pages.

            Reader strategies: chromium (fread 4 KiB then 64 KiB), pmap (fgets lines), \
            read:SIZE (read(2) of SIZE bytes, 1 to 4194304), cat (= read:131072).
            """
    )

    @Option(help: "The workload: rolling, split-merge, resize, remap or churn.")
    var workload: String = Workload.rolling.rawValue

    @Option(help: "Pages in the arena (default: 65000 for rolling, 16384 for the others).")
    var pages: Int?

    @Flag(help: "Map the arena without MAP_NORESERVE.")
    var noNoreserve = false

    @Option(help: "Seed of the workload's random choices (random when not given).")
    var seed: UInt64?

    @Option(help: "Reader strategy: chromium, pmap, cat or read:SIZE.")
    var reader: String = "chromium"

    @Option(help: "Snapshots the reader takes, back to back.")
    var snapshots: Int = RecordingConfiguration.defaultSnapshotCount

    @Option(name: [.customShort("o"), .long], help: "The trace file (default: <workload>-<reader>-seed<S>.mrtrace).")
    var output: String?

    @Flag(help: "Run the same experiment without the mutator's logging: no trace, loop time only.")
    var noLog = false

    @Flag(help: "Print the summary as a JSON object (keys: docs/record-json.md).")
    var json = false

    func validate() throws {
        let parsedWorkload: Workload
        do {
            _ = try ReaderStrategy(parsing: reader)
            parsedWorkload = try Workload(parsing: workload)
        } catch {
            throw ValidationError(error.description)
        }
        if let pages, pages < parsedWorkload.minimumPageCount {
            throw ValidationError("--pages must be at least \(parsedWorkload.minimumPageCount) for \(parsedWorkload)")
        }
        guard snapshots >= 1 else { throw ValidationError("--snapshots must be at least 1") }
    }

    func run() throws {
        let summary = try reportingFailures {
            let strategy = try ReaderStrategy(parsing: reader)
            let configuration = RecordingConfiguration(
                workload: try Workload(parsing: workload), pageCount: pages, noReserve: !noNoreserve,
                seed: seed ?? RecordingConfiguration.randomSeed(), reader: strategy, snapshotCount: snapshots,
                outputPath: output, logMutations: !noLog, toolVersion: mapsraceVersion)
            return try record(configuration)
        }
        if json {
            print(summary.jsonText)
        } else {
            print(Self.describe(summary))
        }
        if summary.interrupted {
            printError("mapsrace: recording interrupted by signal \(summary.signal); the trace holds what was recorded")
            throw ExitCode(summary.exitCode)
        }
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
        if summary.interrupted {
            lines.append("interrupted   by signal \(summary.signal)")
        }
        return lines.joined(separator: "\n")
    }
}
