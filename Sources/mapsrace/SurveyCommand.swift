import ArgumentParser
import MapsSystem
import MapsRecorder
import MapsSurvey

#if canImport(Glibc)
import Glibc
#endif

struct SurveyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "survey",
        abstract: "Record every reader against every workload, analyse each trace, and rank the readers in one table.",
        discussion: """
            Every workload × reader pair (a cell) is recorded --repeat times, each time by a fresh \
            `mapsrace record` process with seed --seed + i, so every cell faces the same page \
            shuffles. Each trace is analysed as `mapsrace analyze` would, and the cell reports: \
            consistent snapshots in %, anomalies per 100 snapshots by kind, snapshots that broke the \
            kernel's no-overlap and complete-coverage guarantees, the median time to read one \
            snapshot, the median target pause (readers that stop the target), and whether the model \
            was validated in every recording.

            The traces stay in the survey directory (printed at the start and the end), with \
            survey.json and survey.md, so any cell can be opened with `analyze` or `diff`. A \
            recording that fails (say, a reader this kernel does not support) marks its cell with \
            the error; the survey goes on.

            A reader named real-... is a real installed program (cat, pmap, python3, psutil, eu-stack, gdb, \
            perf) run unmodified under `mapsrace record --workload W -- COMMAND`, traced once per \
            snapshot; the table's "vs profile" column says whether its recorded requests match the \
            built-in profile of the same tool. The command lines are one table (docs/survey.md).

            The defaults (8000 pages, 20 snapshots, 5 repeats: 100 snapshots per cell) make every \
            snapshot span about 100 read(2) calls while a recording and its analysis take well under \
            a second, so the default survey finishes in a few minutes on 2 cores.
            """
    )

    @Option(name: .customLong("repeat"), help: "Recordings per workload × reader.")
    var repetitions: Int = SurveyPlan.defaultRepetitions

    @Option(help: ArgumentHelp(
        "Workloads, comma-separated (default: all).",
        valueName: "a,b,..."))
    var workloads: String?

    @Option(help: ArgumentHelp(
        "Readers, comma-separated (default: every named one this build knows).",
        valueName: "x,y,..."))
    var readers: String?

    @Flag(help: ArgumentHelp(
        "Survey the real installed programs of the real-reader table (docs/survey.md) instead of the built-in readers.",
        discussion: "Same as --readers " + RealReaders.names.joined(separator: ",") + "."))
    var real = false

    @Option(help: "Pages in each recording's arena.")
    var pages: Int = SurveyPlan.defaultPageCount

    @Option(help: "Snapshots per recording.")
    var snapshots: Int = SurveyPlan.defaultSnapshotCount

    @Option(help: "Seed of the first recording of every cell; recording i uses seed + i.")
    var seed: UInt64 = SurveyPlan.defaultSeed

    @Option(help: "Directory for the traces and the table (default: survey-<date>-<time> here; must be new or empty).")
    var dir: String?

    @Option(help: ArgumentHelp(
        "Seconds one recording may run before it is stopped and its cell marked failed.",
        discussion: "The recorder, its reader and any traced program get SIGTERM, then SIGKILL 2 s later. A real program that hangs under the tracer cannot stall the survey.",
        valueName: "seconds"))
    var recordingTimeout: Int = SurveyPlan.defaultRecordingTimeoutSeconds

    @Flag(help: "Print the table as JSON (keys: docs/survey.md).")
    var json = false

    @Flag(help: "Print the table as Markdown, ready for the README.")
    var markdown = false

    func validate() throws {
        guard !(json && markdown) else { throw ValidationError("--json and --markdown exclude each other") }
        guard !(real && readers != nil) else { throw ValidationError("--real and --readers exclude each other") }
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard pages >= 2 else { throw ValidationError("--pages must be at least 2") }
        guard snapshots >= 1 else { throw ValidationError("--snapshots must be at least 1") }
        do {
            for workload in try names(workloads, "--workloads") { _ = try Workload(parsing: workload) }
            for reader in try names(readers, "--readers") where RealReaders.named(reader) == nil {
                if reader.hasPrefix(RealReaders.prefix) {
                    throw ValidationError(
                        "unknown real reader '\(reader)': expected one of " + RealReaders.names.joined(separator: ", "))
                }
                _ = try ReaderStrategy(parsing: reader)
            }
        } catch let error as RecordingError {
            throw ValidationError(error.description)
        }
    }

    /// The names of a comma-separated list, duplicates dropped, order kept.
    func names(_ list: String?, _ option: String) throws -> [String] {
        guard let list else { return [] }
        var names: [String] = []
        for name in list.split(separator: ",", omittingEmptySubsequences: true).map(String.init) where !names.contains(name) {
            names.append(name)
        }
        guard !names.isEmpty else { throw ValidationError("\(option) names nothing") }
        return names
    }

    func run() throws {
        let plan = SurveyPlan(
            workloads: workloads == nil ? SurveyPlan.defaultWorkloads : try names(workloads, "--workloads"),
            readers: readers == nil
                ? (real ? RealReaders.names : SurveyPlan.defaultReaders) : try names(readers, "--readers"),
            repetitions: repetitions, pageCount: pages, snapshotCount: snapshots, seed: seed,
            directory: dir ?? defaultSurveyDirectoryName(), toolVersion: mapsraceVersion,
            recordingTimeoutSeconds: recordingTimeout)
        let cells = plan.workloads.count * plan.readers.count
        printError("mapsrace: survey of \(cells) cell(s) × \(plan.repetitions) recording(s); traces go to \(plan.directory)/")

        if case .failure(let code) = StopSignal.install() {
            throw reportFailure(RecordingError.systemCallFailed("sigaction", errno: code.rawValue))
        }
        let progress = TerminalProgress()
        let result = try reportingFailures {
            try Survey(plan: plan, exitStatus: { ExitStatus.of($0) ?? ExitStatus.recordingFailed.rawValue }).run { step in
                progress.show(
                    "cell \(step.cell)/\(step.cells) \(step.workload) × \(step.reader): recording \(step.recording)/\(step.repetitions)")
            }
        }
        progress.clear()

        if json {
            print(SurveyTable.json(result))
        } else if markdown {
            print(SurveyTable.markdown(result), terminator: "")
        } else {
            print(SurveyTable.human(result), terminator: "")
        }
        printError("mapsrace: traces, survey.json and survey.md are in \(plan.directory)/")
        if result.interrupted {
            printError("mapsrace: survey interrupted by signal \(result.signal); the table holds what was recorded")
            throw ExitStatus.interrupted(by: result.signal)
        }
        if result.cells.allSatisfy({ $0.recordings.isEmpty }) {
            printError("mapsrace: error: no recording of the survey succeeded (see the notes column)")
            throw ExitStatus.recordingFailed.exitCode
        }
    }
}
