import ArgumentParser
import MapsKernels
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

@main
struct MapsRace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapsrace",
        abstract: "Record and replay the /proc/PID/maps race, and say exactly why a snapshot was torn.",
        discussion: """
            Linux generates /proc/PID/maps anew on every read(2), about one page per call. \
            A reader that needs several calls can get a snapshot that never existed. \
            mapsrace records a workload that mutates its mappings while a reader reads them \
            (record), replays the ground truth and pinpoints the read boundary behind every \
            duplicated, missing or torn line (analyze), and shows the difference (diff).

            Typical session:
              mapsrace record -o seed.mrtrace       # the seed experiment
              mapsrace analyze seed.mrtrace         # what never existed, and why
              mapsrace diff seed.mrtrace --snapshot 3
              mapsrace report seed.mrtrace          # seed.html: the race as pictures
              mapsrace survey                       # every reader, every workload
            """,
        version: mapsraceVersion,
        subcommands: [
            RecordCommand.self,
            SurveyCommand.self,
            KernelsCommand.self,
            AnalyzeCommand.self,
            DiffCommand.self,
            ReportCommand.self,
            ExportCommand.self,
            ReplayCommand.self,
            InfoCommand.self,
            ExtractCommand.self,
            CountRWCommand.self,
            CheckCommand.self,
            ReaderProcessCommand.self,
            SynthTraceCommand.self,
            TracedExecCommand.self,
            TracedReaderCommand.self,
            GuestInitCommand.self,
        ]
    )

    /// As a guest's init (`mapsrace kernels`) the Swift runtime finds no
    /// arguments (it reads them from /proc, not mounted yet when it looks):
    /// /proc is mounted and /proc/self/cmdline read here.
    static func main() {
        guard getpid() == 1 else { return main(nil) }
        GuestInit.mountProc()
        main(GuestInit.commandLineArguments())
    }
}
