import ArgumentParser
import MapsRecorder

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run the race and record every mutation and every read(2) of the maps into a trace.",
        discussion: """
            The mutator is this process: it maps an arena of --pages pages and runs the seed's \
            rolling-mprotect loop (1 or 2 read-write pages at every instant) while a reader process \
            reads /proc/<pid>/maps --snapshots times. Every mprotect and every read(2) is logged into \
            preallocated memory and written to the trace afterwards. SIGINT or SIGTERM stops the \
            recording early: the trace is still written, marked interrupted (exit 130 or 143).

            Reader strategies: chromium (fread 4 KiB then 64 KiB), pmap (fgets lines), \
            read:SIZE (read(2) of SIZE bytes, 1 to 4194304), cat (= read:131072).
            """
    )

    @Option(help: "The workload: rolling (the seed's experiment).")
    var workload: String = Workload.rolling.rawValue

    @Option(help: "Pages in the arena.")
    var pages: Int = RecordingConfiguration.defaultPageCount

    @Flag(help: "Map the arena without MAP_NORESERVE.")
    var noNoreserve = false

    @Option(help: "Seed of the page shuffle (random when not given).")
    var seed: UInt64?

    @Option(help: "Reader strategy: chromium, pmap, cat or read:SIZE.")
    var reader: String = "chromium"

    @Option(help: "Snapshots the reader takes, back to back.")
    var snapshots: Int = RecordingConfiguration.defaultSnapshotCount

    @Option(name: [.customShort("o"), .long], help: "The trace file (default: rolling-<reader>-seed<S>.mrtrace).")
    var output: String?

    @Flag(help: "Run the same experiment without the mutator's logging: no trace, loop time only.")
    var noLog = false

    @Flag(help: "Print the summary as a JSON object (keys: docs/record-json.md).")
    var json = false

    func validate() throws {
        do {
            _ = try ReaderStrategy(parsing: reader)
            _ = try Workload(parsing: workload)
        } catch {
            throw ValidationError(error.description)
        }
        guard pages >= 2 else { throw ValidationError("--pages must be at least 2") }
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
