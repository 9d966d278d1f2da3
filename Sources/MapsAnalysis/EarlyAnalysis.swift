import Dispatch
import MapsModel
import MapsTrace

/// Analyses snapshots while `TraceContext.load` is still decoding the rest
/// of the trace, on the other cores.
///
/// At the first snapshot it builds the ground truth from what came before
/// (the initial quiescent maps and every mutation) and judges lines exactly,
/// as if the model check will pass, with only the initial quiescent maps for
/// the lines outside the arena. `TraceAnalysis` takes the results only when
/// that guess holds: the model check passes and the final quiescent maps adds
/// no line outside the arena; otherwise it analyses the snapshots again.
final class EarlyAnalysis: SnapshotPrefetcher, @unchecked Sendable {
    // Written by the loading thread only; read after the load returns.
    private(set) var truth: GroundTruth?
    private(set) var initialText: MapsText?
    private(set) var analyzer: SnapshotAnalyzer?
    private(set) var abandoned = false
    private var slots: [Slot] = []
    private let group = DispatchGroup()

    /// One snapshot's analysis: written once by its worker, read after the group is done.
    private final class Slot: @unchecked Sendable {
        var analysis: SnapshotAnalysis?
    }

    func begin(header: TraceHeader, arena: ArenaRecord, initialMaps: QuiescentMaps, mutations: [MutationRecord]) -> Bool {
        // Anything unusable is left to the ordinary path to report.
        guard (try? TraceContext.checkArena(arena, pageSize: header.pageSize)) != nil,
              let initial = try? MapsParser.parseLinux(initialMaps.text)
        else { return false }
        let baseState = MutationClock(mutations).states(from: initialMaps.tBegin, to: initialMaps.tBegin).lowerBound
        guard let truth = try? GroundTruth(
            initialMaps: initial, arena: arena.start..<arena.end, pageSize: header.pageSize,
            mutations: mutations, baseState: baseState)
        else { return false }
        self.truth = truth
        initialText = initial
        analyzer = SnapshotAnalyzer(
            truth: truth, match: .exact, mutations: mutations, origin: header.originNs, quiescent: [initial],
            format: TraceAnalysis.textFormat(of: header))
        return true
    }

    func prefetch(_ snapshot: ObservedSnapshot) {
        guard let analyzer, !abandoned else { return }
        let slot = Slot()
        slots.append(slot)
        DispatchQueue.global().async(group: group) {
            slot.analysis = analyzer.analysis(of: snapshot)
        }
    }

    func abandon() {
        abandoned = true
    }

    /// Whether the analyses stand for `final`, the analyzer built after the
    /// model check: the same ground truth, exact lines, and no line outside
    /// the arena known now that was not known when they ran.
    func holds(for final: SnapshotAnalyzer, snapshotCount: Int) -> Bool {
        guard !abandoned, let analyzer, final.truth === analyzer.truth, final.match == .exact,
              slots.count == snapshotCount
        else { return false }
        return final.knownOutside == analyzer.knownOutside
    }

    /// The analyses in file order, once all are done.
    func results() -> [SnapshotAnalysis] {
        group.wait()
        return slots.map { slot in
            guard let analysis = slot.analysis else { preconditionFailure("an early analysis finished without a result") }
            return analysis
        }
    }
}
