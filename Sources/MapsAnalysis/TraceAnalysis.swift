import Dispatch
import MapsModel
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// The analysis of a whole trace: replay, model check, every snapshot.
public struct TraceAnalysis {
    public let context: TraceContext
    public let truth: GroundTruth
    public let initialText: MapsText
    public let finalText: MapsText?
    public let model: ModelCheck
    public let analyzer: SnapshotAnalyzer
    /// Every snapshot's analysis, done while the trace was loading, when
    /// that early work holds (`EarlyAnalysis`).
    let earlyAnalyses: [SnapshotAnalysis]?

    /// Loads the trace's context and builds and checks the ground truth.
    /// - Parameter analysingWhileLoading: analyse the snapshots on the other
    ///   cores while that one pass decodes them (`EarlyAnalysis`), for a
    ///   caller that will `run()` them all without `each`: the trace is then
    ///   decoded once. `run` decodes it again when that early work does not
    ///   hold or is not what it is asked for, so other callers leave it off.
    public init(_ source: TraceSource, analysingWhileLoading: Bool = false) throws(AnalysisError) {
        let early = analysingWhileLoading ? EarlyAnalysis() : nil
        try self.init(context: TraceContext.load(source, prefetcher: early), early: early)
    }

    public init(context: TraceContext) throws(AnalysisError) {
        try self.init(context: context, early: nil)
    }

    private init(context: TraceContext, early: EarlyAnalysis?) throws(AnalysisError) {
        self.context = context
        let prebuilt = early?.setupResult
        let (truth, initial, final) = try context.groundTruth(prebuilt: prebuilt.map { ($0.truth, $0.initial) })
        self.truth = truth
        initialText = initial
        finalText = final
        model = Self.check(truth, initial: initial, final: final)
        analyzer = SnapshotAnalyzer(
            truth: truth, match: model.validated ? .exact : .pageLevel, mutations: context.mutations,
            origin: context.header.originNs, quiescent: [initial] + (final.map { [$0] } ?? []),
            format: Self.textFormat(of: context.header), clock: prebuilt?.clock)
        if let early, early.holds(for: analyzer, snapshotCount: context.snapshotIndexes.count) {
            earlyAnalyses = early.results()
        } else {
            earlyAnalyses = nil
        }
    }

    /// What the trace's reader read: maps, or smaps (whose mapping headers are judged).
    static func textFormat(of header: TraceHeader) -> SnapshotAnalyzer.TextFormat {
        header.reader == "smaps" || header.readerParameters[parameter: "file"] == "smaps" ? .smapsHeaders : .maps
    }

    /// Replays from the initial quiescent maps and compares the arena with
    /// both quiescent reads: the line rule holds at the start, and every
    /// mutation is accounted for at the end.
    static func check(_ truth: GroundTruth, initial: MapsText, final: MapsText?) -> ModelCheck {
        let atStart = truth.mismatches(at: truth.baseState, quiescent: initial)
        var examples: [String] = []
        func note(_ mismatch: (missingFromModel: [MapsLine], extraInModel: [MapsLine]), _ role: String) {
            for line in mismatch.missingFromModel.prefix(3) { examples.append("\(role) maps has `\(line)`, the model does not") }
            for line in mismatch.extraInModel.prefix(3) { examples.append("the model has `\(line)`, \(role) maps does not") }
        }
        note(atStart, "initial")
        let initialMismatches = atStart.missingFromModel.count + atStart.extraInModel.count
        guard let final else {
            return ModelCheck(
                validated: false, match: "page_level", initialMismatches: initialMismatches, finalMismatches: 0,
                examples: examples, unmodeledMutations: truth.unmodeledMutations.count,
                detail: "the trace has no final quiescent maps to check the replay against; lines are judged page by page")
        }
        let atEnd = truth.mismatches(at: truth.finalState, quiescent: final)
        note(atEnd, "final")
        let finalMismatches = atEnd.missingFromModel.count + atEnd.extraInModel.count
        let validated = initialMismatches == 0 && finalMismatches == 0 && truth.unmodeledMutations.isEmpty
        let replayed = truth.finalState - truth.baseState
        let detail = validated
            ? "replaying \(replayed) mutations from the initial quiescent maps reproduces the final quiescent maps exactly"
            : "the replay of \(replayed) mutations does not reproduce the quiescent maps (\(initialMismatches) initial, \(finalMismatches) final line mismatches, \(truth.unmodeledMutations.count) unmodeled mutations); lines are judged page by page"
        return ModelCheck(
            validated: validated, match: validated ? "exact" : "page_level",
            initialMismatches: initialMismatches, finalMismatches: finalMismatches,
            examples: examples, unmodeledMutations: truth.unmodeledMutations.count, detail: detail)
    }

    /// Analyzes every snapshot (or only `only`), streaming them one by one,
    /// or takes the analyses done while the trace loaded when they hold.
    /// - Parameters:
    ///   - each: sees every verdict with its lines, e.g. for `diff` (the
    ///     snapshots are then analysed here, with their lines).
    ///   - progress: called on this thread, in file order, with how many
    ///     snapshots are done.
    public func run(
        only: Int? = nil, each: ((SnapshotVerdict) -> Void)? = nil, progress: ((Int) -> Void)? = nil
    ) throws(AnalysisError) -> AnalysisReport {
        if let only, !context.snapshotIndexes.contains(only) {
            if case .truncated(let cut) = context.completion {
                throw .snapshotLostToTruncation(only, available: context.snapshotIndexes.count, cut)
            }
            throw .noSuchSnapshot(only, available: context.snapshotIndexes.count)
        }
        // A traced recording: every address space modeled whole, each
        // snapshot judged against the one it read.
        let spaces = try AddressSpaceAnalysis.run(context, only: only, format: Self.textFormat(of: context.header))
        if only == nil, each == nil, let earlyAnalyses {
            return report(spaces: spaces, earlyAnalyses.enumerated().map { done, analysis in
                var analysis = analysis
                analysis.pauseNs = context.pauses[analysis.index]?.pauseNs
                progress?(done + 1)
                return analysis
            })
        }
        // Snapshots are independent once the ground truth is built: while
        // this thread decodes the next one, up to one per core are analysed
        // on other threads; verdicts are taken back in file order.
        var snapshots: [SnapshotAnalysis] = []
        var pending: [PendingVerdict] = []
        let width = Self.analysisThreads
        let analyzer = self.analyzer
        func finish(_ slot: PendingVerdict) {
            slot.done.wait()
            if var verdict = slot.verdict {
                verdict.analysis.pauseNs = context.pauses[verdict.snapshot.index]?.pauseNs
                snapshots.append(verdict.analysis)
                each?(verdict)
            } else if var analysis = slot.analysis {
                analysis.pauseNs = context.pauses[analysis.index]?.pauseNs
                snapshots.append(analysis)
            } else {
                preconditionFailure("a snapshot's analysis signalled without a result")
            }
            progress?(snapshots.count)
        }
        try context.forEachSnapshot(only: only) { (snapshot) throws(AnalysisError) in
            if pending.count >= width { finish(pending.removeFirst()) }
            let slot = PendingVerdict()
            // Only `each` needs the per-line verdict.
            let verdicts = each != nil
            DispatchQueue.global().async {
                if verdicts { slot.verdict = analyzer.analyze(snapshot) } else { slot.analysis = analyzer.analysis(of: snapshot) }
                slot.done.signal()
            }
            pending.append(slot)
        }
        for slot in pending { finish(slot) }
        return report(spaces: spaces, snapshots)
    }

    /// How many snapshots are analysed at once: one per online processor.
    static let analysisThreads = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)

    /// The state at `nanoseconds` after the trace's start: every mutation
    /// that had returned by then.
    public func state(atNanoseconds nanoseconds: UInt64) -> Int {
        let instant = context.header.originNs &+ nanoseconds
        let done = analyzer.clock.states(from: instant, to: instant).lowerBound
        return min(max(done, truth.baseState), truth.finalState)
    }

    /// Checks that `state` is one the model can reconstruct.
    public func checkState(_ state: Int) throws(AnalysisError) {
        guard state >= truth.baseState && state <= truth.finalState else {
            throw .noSuchState(state, first: truth.baseState, last: truth.finalState)
        }
    }

    /// The whole maps at `state`, as the kernel would print it: the lines
    /// outside the arena from the initial quiescent read, the arena's from replay.
    public func maps(at state: Int) -> [MapsLine] {
        truth.maps(at: state, outside: initialText.lines)
    }

    func report(spaces: AddressSpaceAnalysis? = nil, _ analysed: [SnapshotAnalysis]) -> AnalysisReport {
        // A reader whose own check reads the text: whether it caught each tear.
        var snapshots = analysed
        if let spaces { Self.judgeAgainstOwnSpaces(&snapshots, spaces, context: context) }
        if let rule = ValidationJudge.rule(of: context.header) {
            for position in snapshots.indices {
                snapshots[position].validation = ValidationJudge.judge(
                    snapshots[position], flags: context.snapshotEndFlags[snapshots[position].index] ?? [], rule: rule)
            }
        }
        var totals = AnomalyTotals()
        for snapshot in snapshots {
            for anomaly in snapshot.anomalies { totals[anomaly.kind] += 1 }
            totals.unmodeled += snapshot.unmodeledLines.count
        }
        func guarantee(_ broken: (SnapshotAnalysis) -> Int) -> GuaranteeCheck {
            let offenders = snapshots.filter { broken($0) > 0 }
            return GuaranteeCheck(
                holds: offenders.isEmpty, violations: offenders.reduce(0) { $0 + broken($1) },
                snapshots: offenders.map(\.index))
        }
        let header = context.header
        let guarantees = Guarantees(
            kernelRelease: header.kernelRelease,
            noOverlap: guarantee { snapshot in
                let duplicated = snapshot.anomalies.filter { $0.kind == .duplicated }.count
                return duplicated > 0 ? duplicated : (snapshot.noOverlap ? 0 : 1)
            },
            completeCoverage: guarantee { $0.anomalies.filter { $0.kind == .missing }.count })
        let complete: Bool
        switch context.completion {
        case .complete: complete = true
        default: complete = false
        }
        return AnalysisReport(
            trace: context.source.name, kernelRelease: header.kernelRelease, workload: header.workload,
            reader: header.reader, pages: header.pages,
            seed: header.seed, arenaStart: addressString(context.arena.start), arenaEnd: addressString(context.arena.end),
            mutations: context.mutations.count, traceComplete: complete,
            interrupted: context.trailer?.interrupted ?? false,
            modelValidated: model.validated, model: model,
            snapshotCount: snapshots.count, consistentSnapshots: snapshots.filter(\.consistent).count,
            snapshots: snapshots, guarantees: guarantees, totals: totals,
            validation: ValidationJudge.totals(snapshots), addressSpaces: spaces?.reports)
    }

    /// Gives each snapshot its whole-address-space verdict. A snapshot that
    /// read another address space than the arena's (another process, or the
    /// same pid before or after an exec) cannot be judged by the arena's
    /// model: its verdict is its own address space's, and the arena's
    /// anomalies, epochs and unmodeled lines, which would be about another
    /// process's lines, are dropped.
    static func judgeAgainstOwnSpaces(_ snapshots: inout [SnapshotAnalysis], _ spaces: AddressSpaceAnalysis, context: TraceContext) {
        let header = context.header
        let judged = AddressSpaceKey(
            pid: header.mutatorPID,
            generation: header.workloadParameters[parameter: "target_generation"].flatMap { UInt32($0) } ?? 0)
        for position in snapshots.indices {
            guard var verdict = spaces.verdicts[snapshots[position].index] else { continue }
            verdict.arenaSpace = AddressSpaceKey(pid: verdict.pid, generation: verdict.generation) == judged
            snapshots[position].wholeSpace = verdict
            if verdict.arenaSpace {
                // Lines outside the arena that the whole-space model explains
                // (a state of it has every line) are modeled: only the lines
                // no syscall explains stay unmodeled.
                if verdict.consistent == true {
                    snapshots[position].unmodeledLines.removeAll { line in
                        let path = line.text.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                        return path.count < 6 || !SpecialLines.isSpecial(String(path[5]).trimmingLeadingSpaces)
                    }
                }
                continue
            }
            // An address space the tracer did not follow: nothing to judge it by.
            guard verdict.match != "none" else { continue }
            snapshots[position].consistent = verdict.consistent ?? false
            snapshots[position].explainingState = nil
            snapshots[position].anomalies = []
            snapshots[position].epochList = []
            snapshots[position].epochs = 0
            snapshots[position].arenaLines = 0
            snapshots[position].unmodeledLines = []
            snapshots[position].completeCoverage = true
        }
    }
}

extension String {
    var trimmingLeadingSpaces: String { String(drop { $0 == " " }) }
}

/// One snapshot's analysis running on another thread. `verdict` or
/// `analysis` is written once, by that thread, before it signals `done`; it
/// is read only after waiting on `done`.
private final class PendingVerdict: @unchecked Sendable {
    var verdict: SnapshotVerdict?
    var analysis: SnapshotAnalysis?
    let done = DispatchSemaphore(value: 0)
}
