import ArgumentParser
import MapsAnalysis
import MapsSystem
import MapsTrace

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Say which snapshots never existed, and pinpoint the read boundary and mutations behind each anomaly.",
        discussion: """
            Replays the ground truth (the exact mappings after every logged mutation), gives every \
            observed line the states possible while the read(2) that returned its first byte was in \
            the kernel, and splits each snapshot into the fewest epochs one state each explains. Every \
            epoch break is pinpointed: the boundary between two reads (or inside one), the mutations \
            that ran in the gap, and what it did to the text:

              duplicated  an address range reported by two lines
              missing     a range mapped during the whole snapshot but in no line
              torn        lines from different epochs that never coexisted
              intra_read  an epoch break inside one read(2)
              phantom     a line no state in its window explains

            The kernel's documented guarantees (no overlapping lines; whatever stayed mapped appears) \
            are checked and reported with the trace's kernel release. Lines outside the workload's \
            arena are judged against the quiescent reads only, and reported apart as unmodeled.

            Exit status: 0 when the analysis ran, whatever it found; 1 with --fail-on-anomaly when it \
            found any anomaly; 13 after the report when the trace was cut short; other trace errors \
            exit with their own codes (see the README).
            """
    )

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Flag(help: "Print one JSON object (schema: docs/analysis-json.md).")
    var json = false

    @Option(help: "Analyze only this snapshot (0-based).")
    var snapshot: Int?

    @Flag(help: "Print the summary and the per-snapshot table only, without each anomaly.")
    var brief = false

    @Flag(help: "Exit with status 1 when any race anomaly was found.")
    var failOnAnomaly = false

    @OptionGroup var progressOption: ProgressOption

    func run() throws {
        keepFreedMemoryForReuse()  // arrays of megabytes freed and allocated again per snapshot
        let progress = progressOption.line()
        let analysis = try reportingFailures(about: trace) {
            try TraceAnalysis(.file(trace), analysingWhileLoading: snapshot == nil)
        }
        let total = snapshot == nil ? analysis.context.snapshotIndexes.count : 1
        let report = try reportingFailures(about: trace) {
            try analysis.run(only: snapshot, progress: { done in
                progress.show("analyze: snapshot \(done)/\(total) analysed")
            })
        }
        progress.clear()
        print(json ? ReportText.json(report) : ReportText.human(report, details: !brief), terminator: "")
        if json { print() }
        try exitForTruncation(of: trace, completion: analysis.context.completion)
        if failOnAnomaly && report.totals.raceAnomalies > 0 { throw ExitStatus.anomalyFound.exitCode }
    }
}
