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
    // `truth`, `initialText`, `clock` and `analyzer` are written once, by
    // the setup task, and read after `setup` is done; `slots`, `started` and
    // `abandoned` by the loading thread only.
    private var started = false
    private(set) var abandoned = false
    private var builtTruth: GroundTruth?
    private var builtInitialText: MapsText?
    private var builtClock: MutationClock?
    private var builtAnalyzer: SnapshotAnalyzer?
    private var slots: [Slot] = []
    /// The setup: the ground truth and the analyzer, built off the loading thread.
    private let setup = DispatchGroup()
    /// The initial maps parsed off the loading thread while it decodes the
    /// mutations (written by that task, read after `parsing` is done).
    private let parsing = DispatchGroup()
    private var prepared: (source: [UInt8], text: MapsText?)?
    /// Every analysis handed out.
    private let group = DispatchGroup()
    /// Snapshots handed out and not yet analysed, at most one per core
    /// and one more: the loading thread waits rather than hold every
    /// snapshot's bytes, and freed memory is reused for the next ones.
    private let inFlight = DispatchSemaphore(value: TraceAnalysis.analysisThreads + 1)

    /// The mutation clock, written by its task, read after its group is done.
    private final class ClockBox: @unchecked Sendable {
        var clock: MutationClock?
    }

    /// One snapshot's analysis: written once by its worker, read after `group` is done.
    private final class Slot: @unchecked Sendable {
        var analysis: SnapshotAnalysis?
    }

    func prepare(initialMaps: QuiescentMaps) {
        parsing.wait()  // a second initial maps (a forged trace): one parse at a time
        parsing.enter()
        DispatchQueue.global().async { [self] in
            prepared = (initialMaps.text, try? MapsParser.parseLinux(initialMaps.text))
            parsing.leave()
        }
    }

    func begin(header: TraceHeader, arena: ArenaRecord, initialMaps: QuiescentMaps, mutations: [MutationRecord]) -> Bool {
        // Anything unusable is left to the ordinary path to report.
        // (TraceContext.load checked the arena against the bytes read so far.)
        guard (try? TraceContext.checkArena(arena, pageSize: header.pageSize, rawBytes: .max)) != nil else { return false }
        started = true
        setup.enter()
        DispatchQueue.global().async { [self] in
            defer { setup.leave() }
            parsing.wait()
            let parsed = prepared.flatMap { $0.source == initialMaps.text ? $0.text : nil }
            guard let initial = parsed ?? (try? MapsParser.parseLinux(initialMaps.text)) else { return }
            // The mutation clock is built beside the ground truth. The base
            // state needs only a count: the mutations that had returned when
            // the initial maps was read (what the clock's look-up gives,
            // ordered or not).
            let clockBox = ClockBox()
            let clocked = DispatchGroup()
            DispatchQueue.global().async(group: clocked) { clockBox.clock = MutationClock(mutations) }
            let begin = initialMaps.tBegin
            let baseState = mutations.reduce(0) { $0 + ($1.tEnd <= begin ? 1 : 0) }
            let truth = try? GroundTruth(
                initialMaps: initial, arena: arena.start..<arena.end, pageSize: header.pageSize,
                mutations: mutations, baseState: baseState)
            clocked.wait()
            guard let truth, let clock = clockBox.clock else { return }
            builtTruth = truth
            builtInitialText = initial
            builtClock = clock
            builtAnalyzer = SnapshotAnalyzer(
                truth: truth, match: .exact, mutations: mutations, origin: header.originNs, quiescent: [initial],
                format: TraceAnalysis.textFormat(of: header), clock: clock)
        }
        return true
    }

    func prefetch(_ snapshot: ObservedSnapshot) {
        guard started, !abandoned else { return }
        let slot = Slot()
        slots.append(slot)
        inFlight.wait()
        group.enter()
        setup.notify(queue: .global()) { [self] in
            if let analyzer = builtAnalyzer { slot.analysis = analyzer.analysis(of: snapshot) }
            inFlight.signal()
            group.leave()
        }
    }

    func abandon() {
        abandoned = true
    }

    /// The ground truth, its initial maps and mutation clock, when the
    /// setup built them and nothing came after to void them.
    var setupResult: (truth: GroundTruth, initial: MapsText, clock: MutationClock)? {
        guard started, !abandoned else { return nil }
        setup.wait()
        guard let builtTruth, let builtInitialText, let builtClock else { return nil }
        return (builtTruth, builtInitialText, builtClock)
    }

    /// Whether the analyses stand for `final`, the analyzer built after the
    /// model check: the same ground truth, exact lines, and no line outside
    /// the arena known now that was not known when they ran.
    func holds(for final: SnapshotAnalyzer, snapshotCount: Int) -> Bool {
        guard started, !abandoned, slots.count == snapshotCount else { return false }
        setup.wait()
        guard let builtAnalyzer, final.truth === builtAnalyzer.truth, final.match == .exact else { return false }
        return final.knownOutside == builtAnalyzer.knownOutside
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
