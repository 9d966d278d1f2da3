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

            A traced recording (`record -- CMD`): --pid P [--generation G] prints the whole-address-space \
            model of process P in address-space generation G (default: its last one the trace models), \
            where state J is that address space after its first J logged mutations (see \
            docs/analysis-json.md, `address_spaces`).
            """
    )

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Option(help: "The state: mutations applied.")
    var state: Int?

    @Option(help: "Nanoseconds after the trace's start.")
    var time: UInt64?

    @Option(help: "A traced recording: replay this process's whole address space instead.")
    var pid: Int32?

    @Option(help: "With --pid: its address-space generation (0 before its first exec or as forked, then 1, 2, ...).")
    var generation: UInt32?

    func validate() throws {
        guard (state == nil) != (time == nil) else {
            throw ValidationError("give exactly one of --state J and --time NS")
        }
        if generation != nil && pid == nil { throw ValidationError("--generation needs --pid") }
    }

    func run() throws {
        if let pid {
            let context = try reportingFailures(about: trace) { try TraceContext.load(.file(trace)) }
            let key = AddressSpaceKey(
                pid: pid,
                generation: generation ?? context.addressSpaces.last { $0.pid == pid }?.generation ?? 0)
            let chosen = state ?? context.state(of: key, atInstant: context.header.originNs &+ (time ?? 0))
            let model = try reportingFailures(about: trace) { try context.addressSpaceModel(key, at: chosen) }
            var text = ""
            for line in model.mapsLines { text += line.description + "\n" }
            print(text, terminator: "")
            try exitForTruncation(of: trace, completion: context.completion)
            return
        }
        let analysis = try reportingFailures(about: trace) { try TraceAnalysis(.file(trace)) }
        let chosen = state ?? analysis.state(atNanoseconds: time ?? 0)
        try reportingFailures(about: trace) { try analysis.checkState(chosen) }
        var text = ""
        for line in analysis.maps(at: chosen) { text += line.description + "\n" }
        print(text, terminator: "")
        try exitForTruncation(of: trace, completion: analysis.context.completion)
    }
}
