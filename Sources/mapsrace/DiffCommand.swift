import ArgumentParser
import MapsAnalysis

#if canImport(Glibc)
import Glibc
#endif

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Diff the reconstructed maps against one observed snapshot, with every read boundary marked.",
        discussion: """
            `-` lines are the reconstructed maps at the chosen state, `+` lines what the reader saw, \
            each tagged with its epoch (the run of lines one state explains). A `## read K` line marks \
            where read K's bytes begin, with its byte range, its request size and its time since the \
            trace's start. By default the state is the earliest that explains the snapshot's first \
            epoch; compare with a later epoch's state (see `mapsrace analyze`) to see the other side \
            of a break.
            """
    )

    enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Option(help: "The snapshot to show (0-based).")
    var snapshot: Int

    @Option(help: "Compare with the maps at this state instead.")
    var state: Int?

    @Option(help: "Compare with the maps at this many ns after the trace's start instead.")
    var time: UInt64?

    @Option(help: "Unchanged lines around each change.")
    var context = 3

    @Option(help: "Colour: auto (when stdout is a terminal), always or never.")
    var color: ColorChoice = .auto

    func validate() throws {
        if state != nil && time != nil { throw ValidationError("give at most one of --state and --time") }
        if context < 0 { throw ValidationError("--context must be 0 or more") }
    }

    func run() throws {
        let analysis = try reportingFailures(about: trace) { try TraceAnalysis(.file(trace)) }
        var verdict: SnapshotVerdict?
        let report = try reportingFailures(about: trace) { try analysis.run(only: snapshot) { verdict = $0 } }
        guard let verdict else { return }
        if let whole = report.snapshots.first(where: { $0.index == snapshot })?.wholeSpace, !whole.arenaSpace,
           whole.match != "none"
        {
            // A snapshot of another address space than the arena's: diffed
            // against its own address space's whole-space model.
            let key = AddressSpaceKey(pid: whole.pid, generation: whole.generation)
            let context = analysis.context
            let chosen = state
                ?? time.map { context.state(of: key, atInstant: context.header.originNs &+ $0) }
                ?? whole.explainingState ?? whole.stateLo
            let model = try reportingFailures(about: trace) { try context.addressSpaceModel(key, at: chosen) }
            let useColor = color == .always || (color == .auto && isatty(STDOUT_FILENO) == 1)
            let label = "\(key) state \(chosen)"
                + (state == nil && time == nil ? (whole.explainingState != nil ? " (explains the snapshot)" : " (the snapshot's first)") : "")
            print(SnapshotDiff.render(
                verdict: verdict, reconstructed: model.mapsLines, stateLabel: label,
                origin: context.header.originNs, context: self.context, color: useColor, tag: "not in \(key) at that state"), terminator: "")
            try exitForTruncation(of: trace, completion: context.completion)
            return
        }
        let chosen = state ?? time.map { analysis.state(atNanoseconds: $0) }
            ?? verdict.analysis.epochList.first?.stateMin ?? analysis.truth.baseState
        try reportingFailures(about: trace) { try analysis.checkState(chosen) }
        let label: String
        if state != nil || time != nil {
            label = "state \(chosen)"
        } else {
            label = "state \(chosen) (explains epoch 0)"
        }
        let useColor = color == .always || (color == .auto && isatty(STDOUT_FILENO) == 1)
        print(SnapshotDiff.render(
            verdict: verdict, reconstructed: analysis.maps(at: chosen), stateLabel: label,
            origin: analysis.context.header.originNs, context: context, color: useColor), terminator: "")
        try exitForTruncation(of: trace, completion: analysis.context.completion)
    }
}
