import ArgumentParser
import MapsAnalysis
import MapsReport
import MapsTrace

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page that shows the race: timelines, address space, anomalies.",
        discussion: """
            The page holds the experiment, the verdict summary and the kernel-guarantee checks (as \
            `analyze` prints them), the per-snapshot table, and for each snapshot a timeline (every \
            read(2) as a bar, the mutations as ticks or density, the epochs as bands, each anomaly as \
            a marker at its boundary) and an address-space strip (observed lines coloured by epoch, \
            the truth beside it, where they differ). Clicking an anomaly shows its boundary, its \
            culprit mutations and the `diff` excerpt around it. Everything is inline: the page opens \
            offline and makes no network request.

            With --survey survey.json (from `mapsrace survey`) the page also shows the survey's \
            table, each cell linking to the reports of its traces (TRACE.html beside the trace) that \
            exist; without a TRACE the page is the survey alone.

            Examples:
              mapsrace report seed.mrtrace                  # writes seed.html
              mapsrace report seed.mrtrace --snapshot 3 -o s3.html
              mapsrace report --survey survey-20260101-120000/survey.json

            Exit status as for `analyze` (13 after the page when the trace was cut short); 22 when \
            the page cannot be written; 10 when the survey's JSON cannot be read.
            """
    )

    @Argument(help: "The trace file (from `mapsrace record`); optional with --survey.")
    var trace: String?

    @Option(name: [.customShort("o"), .customLong("output")],
            help: "The page to write (`-`: standard output). Default: the trace's name with .html, or survey.html beside the survey.")
    var output: String?

    @Option(help: "Give this snapshot a section (repeatable; default: every snapshot).")
    var snapshot: [Int] = []

    @Option(help: "A survey's JSON (survey.json) whose table the page shows.")
    var survey: String?

    @OptionGroup var progressOption: ProgressOption

    func validate() throws {
        if trace == nil && survey == nil { throw ValidationError("give a trace, or --survey with a survey's JSON") }
        if trace == nil && !snapshot.isEmpty { throw ValidationError("--snapshot needs a trace") }
        if let output, output.isEmpty { throw ValidationError("-o needs a file name") }
    }

    var outputPath: String {
        if let output { return output }
        if let trace {
            let base = trace.hasSuffix(".mrtrace") ? String(trace.dropLast(8)) : trace
            return base + ".html"
        }
        let surveyPath = survey ?? "survey.json"
        let slash = surveyPath.lastIndex(of: "/")
        return (slash.map { String(surveyPath[...$0]) } ?? "") + "survey.html"
    }

    func run() throws {
        let progress = progressOption.line()
        let overview = try survey.map { path in try reportingFailures { try SurveyOverview.load(path: path) } }
        var analysis: TraceAnalysis?
        if let trace {
            progress.show("reading and replaying \(trace)")
            analysis = try reportingFailures(about: trace) { try TraceAnalysis(.file(trace)) }
            if let context = analysis?.context {
                for index in snapshot where !context.snapshotIndexes.contains(index) {
                    progress.clear()
                    try reportingFailures(about: trace) { () throws -> Void in
                        let available = context.snapshotIndexes.count
                        if case .truncated(let cut) = context.completion {
                            throw AnalysisError.snapshotLostToTruncation(index, available: available, cut)
                        }
                        throw AnalysisError.noSuchSnapshot(index, available: available)
                    }
                }
            }
        }
        let options = HTMLReport.Options(
            snapshots: snapshot.isEmpty ? nil : Set(snapshot), survey: overview, surveyPath: survey,
            outputPath: outputPath == "-" ? nil : outputPath, toolVersion: mapsraceVersion)
        let page = try reportingFailures(about: trace) {
            try HTMLReport(analysis: analysis, options: options) { done, total in
                progress.show("report: snapshot \(done)/\(total) analysed")
            }
        }
        progress.clear()
        try reportingFailures { try writeOutput(Array(page.html.utf8), to: outputPath) }
        if outputPath != "-" {
            printError("mapsrace: wrote \(outputPath) (\(page.html.utf8.count) bytes)")
        }
        if let trace, let analysis {
            try exitForTruncation(of: trace, completion: analysis.context.completion, done: "reported")
        }
    }
}
