import ArgumentParser
import MapsAnalysis
import MapsReport
import MapsTrace

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trace as Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.",
        discussion: """
            Tracks: process "mutator" with every mutation as a complete (X) event and the truth's \
            read-write page count as a counter; process "reader" with every read(2) as an X event \
            (args: read number, offset, requested, returned, snapshot), each snapshot as an X event \
            on its own track, each anomaly as an instant event at its boundary, and the read-write \
            pages each snapshot saw as a counter. ts and dur are microseconds after the trace's \
            start (three decimals: exact nanoseconds). Events on one track never overlap.

            Example:
              mapsrace export seed.mrtrace --format chrome-json -o seed.json   # open in ui.perfetto.dev

            Exit status as for `analyze` (13 after the export when the trace was cut short); 22 when \
            the output cannot be written.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case chromeJSON = "chrome-json"
    }

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Option(help: "Output format (only chrome-json).")
    var format: Format = .chromeJSON

    @Option(name: [.customShort("o"), .customLong("output")], help: "The file to write (default `-`: standard output).")
    var output = "-"

    @OptionGroup var progressOption: ProgressOption

    func validate() throws {
        if output.isEmpty { throw ValidationError("-o needs a file name") }
    }

    func run() throws {
        let progress = progressOption.line()
        progress.show("reading and replaying \(trace)")
        let analysis = try reportingFailures(about: trace) { try TraceAnalysis(.file(trace)) }
        let export = try reportingFailures(about: trace) {
            try ChromeTraceExport(analysis: analysis) { done, total in
                progress.show("export: snapshot \(done)/\(total) analysed")
            }
        }
        progress.clear()
        try reportingFailures { try writeOutput(export.bytes, to: output) }
        if output != "-" {
            let counts = export.counts
            printError("mapsrace: wrote \(output) (\(export.bytes.count) bytes: \(counts.reads) reads, \(counts.mutations) mutations, \(counts.snapshots) snapshots, \(counts.anomalies) anomalies)")
        }
        try exitForTruncation(of: trace, completion: analysis.context.completion, done: "exported")
    }
}
