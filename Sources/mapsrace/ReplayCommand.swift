import ArgumentParser
import MapsAnalysis

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print the reconstructed maps at one state or instant, in /proc/PID/maps format.",
        discussion: """
            State J is the address space after the first J logged mutations (sequence numbers 0 to \
            J-1). The model starts at the state the initial quiescent maps shows (after the workload's \
            setup) and ends with every mutation applied. --time NS picks the state at NS nanoseconds \
            after the trace's start: every mutation that had returned by then.

            Lines outside the workload's arena come from the initial quiescent read.
            """
    )

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Option(help: "The state: mutations applied.")
    var state: Int?

    @Option(help: "Nanoseconds after the trace's start.")
    var time: UInt64?

    func validate() throws {
        guard (state == nil) != (time == nil) else {
            throw ValidationError("give exactly one of --state J and --time NS")
        }
    }

    func run() throws {
        let analysis = try reportingFailures(about: trace) { try TraceAnalysis(.file(trace)) }
        let chosen = state ?? analysis.state(atNanoseconds: time ?? 0)
        try reportingFailures(about: trace) { try analysis.checkState(chosen) }
        var text = ""
        for line in analysis.maps(at: chosen) { text += line.description + "\n" }
        print(text, terminator: "")
        try exitForTruncation(of: trace, completion: analysis.context.completion)
    }
}
