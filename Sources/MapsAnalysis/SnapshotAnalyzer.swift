import MapsCheck
import MapsModel
import MapsTrace

/// The analysis of one snapshot together with the per-line facts `diff` needs.
public struct SnapshotVerdict: Sendable {
    public var analysis: SnapshotAnalysis
    public var snapshot: ObservedSnapshot
    /// The workload's arena: lines outside it are not judged by replay.
    public var arena: Range<UInt64>
    public var text: MapsText
    /// For each line: the read that returned its first byte.
    public var lineReads: [Int]
    /// For each line: its epoch (index into `analysis.epochList`), nil for
    /// lines outside the arena and phantom lines.
    public var lineEpochs: [Int?]
}

/// Attributes every line of a snapshot to its read, finds the states that
/// explain it, splits the snapshot into epochs and pinpoints each break.
///
/// `analyze` runs five stages, each a method with its own result type:
/// attribution (`SnapshotLines`), line explanation (`LineExplanation`),
/// epochs (`EpochSpan`), gaps and anomalies (`CoverageFindings`, then the
/// anomaly list), and the report (`SnapshotAnalysis`). The analyzer is
/// immutable: snapshots may be analysed on several threads at once.
public final class SnapshotAnalyzer: Sendable {
    public let truth: GroundTruth
    public let match: GroundTruth.Match
    let mutations: [MutationRecord]
    let clock: MutationClock
    let origin: UInt64
    let knownOutside: Set<MapsLine>
    let arena: Range<UInt64>

    /// What the reader read: `/proc/PID/maps`, or `/proc/PID/smaps`, whose
    /// mapping header lines are the lines judged.
    public enum TextFormat: Sendable {
        case maps
        case smapsHeaders
    }

    public let format: TextFormat

    /// - Parameter quiescent: the parsed quiescent reads; lines outside the
    ///   arena are judged against them.
    public convenience init(
        truth: GroundTruth, match: GroundTruth.Match, mutations: [MutationRecord],
        origin: UInt64, quiescent: [MapsText], format: TextFormat = .maps
    ) {
        self.init(truth: truth, match: match, mutations: mutations, origin: origin, quiescent: quiescent, format: format, clock: nil)
    }

    /// - Parameter clock: `MutationClock(mutations)` when already built.
    init(
        truth: GroundTruth, match: GroundTruth.Match, mutations: [MutationRecord],
        origin: UInt64, quiescent: [MapsText], format: TextFormat, clock: MutationClock?
    ) {
        self.format = format
        self.truth = truth
        self.match = match
        self.mutations = mutations
        self.clock = clock ?? MutationClock(mutations)
        self.origin = origin
        arena = truth.arena
        var known = Set<MapsLine>()
        for text in quiescent {
            for line in text.lines where line.end <= truth.arena.lowerBound || line.start >= truth.arena.upperBound {
                known.insert(line)
            }
        }
        knownOutside = known
    }

    /// The states possible while `read` was in the kernel.
    func window(of read: ObservedRead) -> ClosedRange<Int> {
        let states = clock.states(from: read.tBegin, to: read.tEnd)
        let low = min(max(states.lowerBound, truth.baseState), truth.finalState)
        let high = min(max(states.upperBound, truth.baseState), truth.finalState)
        return low...high
    }

    /// The analysis of `snapshot` with the per-line facts `diff` needs
    /// (the parsed text, each line's read and epoch).
    public func analyze(_ snapshot: ObservedSnapshot) -> SnapshotVerdict {
        let (analysis, attributed, split) = stages(snapshot)
        return SnapshotVerdict(
            analysis: analysis, snapshot: snapshot, arena: arena, text: Self.parsePrefix(snapshot.bytes, format: format).0,
            lineReads: attributed.lineReads, lineEpochs: split.lineEpochs.map { $0 < 0 ? nil : Int($0) })
    }

    /// The analysis of `snapshot` alone: what `analyze` finds, without
    /// keeping anything per line.
    public func analysis(of snapshot: ObservedSnapshot) -> SnapshotAnalysis {
        stages(snapshot).analysis
    }

    /// The five stages, in order.
    private func stages(_ snapshot: ObservedSnapshot) -> (analysis: SnapshotAnalysis, SnapshotLines, EpochSplit) {
        let attributed = attribute(snapshot)
        let explanation = explain(attributed)
        var split = splitIntoEpochs(explanation, attributed)
        let coverage = findCoverageGaps(explanation, attributed)
        let anomalies = collectAnomalies(explanation, &split, coverage, attributed)
        return (report(snapshot, attributed, explanation, split, anomalies), attributed, split)
    }

    /// How many culprits of one anomaly are described in full; `culprits`
    /// always lists them all.
    public static let detailedCulprits = 16

    // MARK: - Stage 1: attribution

    /// A snapshot's lines, parsed once from its bytes, each with the read
    /// that returned its first byte, and the states each read could see.
    struct SnapshotLines {
        /// The lines as columns, parsed once from `bytes`.
        var table: MapsLineTable
        var bytes: [UInt8]
        var parseProblem: MapsParseError?
        var reads: [ObservedRead]
        /// For each line: the read that returned its first byte.
        var lineReads: [Int]
        /// For each read: the states possible while it was in the kernel.
        var windows: [ClosedRange<Int>]
        /// Every state possible during the snapshot.
        var snapshotWindow: ClosedRange<Int>
        var byteCount: Int
        /// The snapshot's end record says the walk reached end of file.
        var reachedEOFFlag: Bool

        /// Whole lines, parsed again from the bytes: for the few lines a
        /// report describes.
        var lines: ParsedLines { ParsedLines(table: table, bytes: bytes) }
    }

    /// The lines of a snapshot by index, each parsed again when asked for.
    struct ParsedLines {
        let table: MapsLineTable
        let bytes: [UInt8]

        var count: Int { table.count }

        subscript(index: Int) -> MapsLine {
            guard let line = MapsParser.line(in: bytes, at: table.byteOffset(index)) else {
                preconditionFailure("line \(index + 1) parsed once and not again")
            }
            return line
        }
    }

    func attribute(_ snapshot: ObservedSnapshot) -> SnapshotLines {
        let (table, parseProblem) = Self.parsePrefixTable(snapshot.bytes, format: format)
        let reads = snapshot.reads
        // Each line belongs to the read that returned its first byte.
        var lineReads = [Int](repeating: 0, count: table.count)
        var readIndex = 0
        for (index, row) in table.rows.enumerated() {
            let offset = row.byteOffset
            while readIndex + 1 < reads.count
                && UInt64(offset) >= reads[readIndex].offset &+ UInt64(max(reads[readIndex].returned, 0)) {
                readIndex += 1
            }
            lineReads[index] = readIndex
        }
        let windows = reads.map { window(of: $0) }
        let snapshotWindow: ClosedRange<Int>
        if let low = windows.map(\.lowerBound).min(), let high = windows.map(\.upperBound).max() {
            snapshotWindow = low...high
        } else {
            let begin = snapshot.begin?.tBegin ?? 0
            let states = clock.states(from: begin, to: snapshot.end?.tEnd ?? begin)
            snapshotWindow = max(states.lowerBound, truth.baseState)...max(states.upperBound, truth.baseState)
        }
        return SnapshotLines(
            table: table, bytes: snapshot.bytes, parseProblem: parseProblem, reads: reads, lineReads: lineReads, windows: windows,
            snapshotWindow: snapshotWindow, byteCount: snapshot.bytes.count,
            reachedEOFFlag: snapshot.end?.flags.contains(.reachedEOF) == true)
    }

    // MARK: - Stage 2: line explanation

    /// Which lines lie in the arena, and for each one some state of its
    /// read explains, every state of the snapshot's window at which it is
    /// true: flat, one run of intervals per explained line.
    struct LineExplanation {
        /// Line indexes of the arena lines, in file order.
        var arenaLines: [Int]
        /// Line indexes of the arena lines that are not phantoms, in file order.
        var explainedLines: [Int]
        /// The states of `explainedLines[k]` are
        /// `intervals[intervalStart[k] ..< intervalStart[k + 1]]`.
        var intervalStart: [Int32]
        var intervals: [StateInterval]
        /// Phantom lines, in file order.
        var phantoms: [Anomaly]
        var unmodeled: [UnmodeledLine]
        /// Read-write arena pages the lines show.
        var readWritePages: Int

        /// Calls `body` with the explained lines' states and reads by
        /// position (valid inside `body` only).
        func withExplained<R>(lineReads: [Int], _ body: (ExplainedLines) -> R) -> R {
            intervals.withUnsafeBufferPointer { all in
                intervalStart.withUnsafeBufferPointer { starts in
                    body(ExplainedLines(intervals: all, intervalStart: starts, lines: explainedLines, lineReads: lineReads))
                }
            }
        }
    }

    /// The explained lines by position: each one's states and read.
    struct ExplainedLines {
        let intervals: UnsafeBufferPointer<StateInterval>
        let intervalStart: UnsafeBufferPointer<Int32>
        let lines: [Int]
        let lineReads: [Int]

        var count: Int { lines.count }

        @inline(__always)
        func states(_ position: Int) -> UnsafeBufferPointer<StateInterval> {
            UnsafeBufferPointer(rebasing: intervals[Int(intervalStart[position])..<Int(intervalStart[position + 1])])
        }

        @inline(__always)
        func read(_ position: Int) -> Int { lineReads[lines[position]] }
    }

    func explain(_ attributed: SnapshotLines) -> LineExplanation {
        let table = attributed.table
        let reads = attributed.reads
        var result = LineExplanation(
            arenaLines: [], explainedLines: [], intervalStart: [0], intervals: [], phantoms: [], unmodeled: [],
            readWritePages: 0)
        result.arenaLines.reserveCapacity(table.count)
        result.explainedLines.reserveCapacity(table.count)
        result.intervalStart.reserveCapacity(table.count + 1)
        result.intervals.reserveCapacity(table.count * 2)
        let snapshotWindow = attributed.snapshotWindow

        let pageSize = truth.pageSize
        for (index, row) in table.rows.enumerated() {
            let start = row.start
            let end = row.end
            if end <= arena.lowerBound || start >= arena.upperBound {
                let line = attributed.lines[index]
                if !knownOutside.contains(line) {
                    result.unmodeled.append(UnmodeledLine(line: index + 1, text: line.description))
                }
                continue
            }
            result.arenaLines.append(index)
            let flags = row.flags
            if flags & MapsLineTable.Flags.read != 0 && flags & MapsLineTable.Flags.write != 0 {
                let low = max(start, arena.lowerBound)
                let high = min(end, arena.upperBound)
                result.readWritePages += Int((high - low) / pageSize)
            }
            // The line was generated at a state of its read's window: if none
            // of those explains it, it is a phantom. Whether the snapshot
            // existed is another question: a line printed early is still true
            // later if nothing touched it, so for epochs a line counts as
            // explained by every state of the snapshot's window at which it
            // is true (the read window lies inside it, so one sweep serves).
            let mark = result.intervals.count
            // Replay judges plain anonymous, page-aligned lines inside the arena.
            if !reads.isEmpty, flags & MapsLineTable.Flags.anonymous != 0, start >= arena.lowerBound,
               end <= arena.upperBound, truth.isPageAligned(start), truth.isPageAligned(end) {
                let pages = truth.page(containing: start)..<truth.page(containing: end)
                truth.appendExplainingStates(
                    pages: pages, protection: PageProtection(table.permissions(index)), within: snapshotWindow,
                    match: match, into: &result.intervals)
            }
            let explained: Bool
            if result.intervals.count == mark {
                explained = false
            } else {
                let read = attributed.windows[attributed.lineReads[index]]
                explained = result.intervals.withUnsafeBufferPointer { all in
                    StateIntervals.meets(
                        UnsafeBufferPointer(rebasing: all[mark...]), Int32(truncatingIfNeeded: read.lowerBound),
                        Int32(truncatingIfNeeded: read.upperBound))
                }
            }
            if explained {
                result.explainedLines.append(index)
                result.intervalStart.append(Int32(result.intervals.count))
            } else {
                result.intervals.removeLast(result.intervals.count - mark)
                result.phantoms.append(phantom(line: attributed.lines[index], index: index, attributed))
            }
        }
        return result
    }

    // MARK: - Stage 3: epochs

    /// One epoch: consecutive explained lines (positions in
    /// `LineExplanation.explainedLines`) and the states that explain them all.
    struct EpochSpan {
        var positions: Range<Int>
        var states: StateSet
    }

    /// The epochs, and each line's epoch.
    struct EpochSplit {
        var epochs: [EpochSpan]
        /// For each line: its epoch, -1 outside the arena and for phantoms.
        var lineEpochs: [Int32]
    }

    func splitIntoEpochs(_ explanation: LineExplanation, _ attributed: SnapshotLines) -> EpochSplit {
        let lineReads = attributed.lineReads
        let explainedLines = explanation.explainedLines
        let epochs = explanation.withExplained(lineReads: lineReads) { Self.epochs(of: $0) }
        var lineEpochs = [Int32](repeating: -1, count: attributed.table.count)
        for (epochIndex, epoch) in epochs.enumerated() {
            for position in epoch.positions { lineEpochs[explainedLines[position]] = Int32(epochIndex) }
        }
        return EpochSplit(epochs: epochs, lineEpochs: lineEpochs)
    }

    /// Splits the explained lines (in file order) into the fewest epochs
    /// that one state each explains.
    ///
    /// Greedy from the front gives the fewest epochs, each break as late as
    /// possible. A break can often move earlier without adding an epoch; when
    /// a read boundary lies in that slack, the break goes there, since that
    /// is where the kernel dropped its locks. A break left inside one read is
    /// one no read boundary can explain.
    ///
    /// Intersections run in two buffers reused throughout (`RunningStates`);
    /// each epoch's states are kept from the pass that found them and
    /// computed again only for an epoch that lost lines to the next one.
    static func epochs(of lines: ExplainedLines) -> [EpochSpan] {
        let count = lines.count
        var starts: [Int] = []  // positions where epochs begin
        var sets: [StateSet] = []  // the states of each epoch
        var running = RunningStates()
        for position in 0..<count {
            if position > 0 && running.narrow(lines.states(position)) { continue }
            if position > 0 { sets.append(running.set) }
            starts.append(position)
            running.reset(lines.states(position))
        }
        if count > 0 { sets.append(running.set) }
        var stale = [Bool](repeating: false, count: starts.count)
        func isReadBoundary(_ position: Int) -> Bool {
            position > 0 && lines.read(position) != lines.read(position - 1)
        }
        for k in starts.indices.dropFirst() where !isReadBoundary(starts[k]) {
            // Epoch k's lines are still those the first pass gave it.
            running.reset(sets[k])
            var position = starts[k] - 1
            while position > starts[k - 1] {
                if running.isEmpty || !running.narrow(lines.states(position)) { break }
                if isReadBoundary(position) {
                    starts[k] = position
                    sets[k] = running.set
                    stale[k - 1] = true
                    break
                }
                position -= 1
            }
        }
        return starts.indices.map { k in
            let end = k + 1 < starts.count ? starts[k + 1] : count
            if stale[k] {
                running.intersectAll(starts[k]..<end, lines)
                sets[k] = running.set
            }
            return EpochSpan(positions: starts[k]..<end, states: sets[k])
        }
    }

    /// The running intersection of the epoch split, in two buffers that
    /// swap roles.
    struct RunningStates {
        private var running: [StateInterval] = []
        private var spare: [StateInterval] = []

        var isEmpty: Bool { running.isEmpty }
        var set: StateSet { running.withUnsafeBufferPointer { StateIntervals.set($0) } }

        /// Intersects with `run`; when that leaves nothing, keeps the states
        /// unchanged and returns false.
        mutating func narrow(_ run: UnsafeBufferPointer<StateInterval>) -> Bool {
            // The usual case: one interval, inside one of the run's.
            if running.count == 1 {
                let only = running[0]
                for interval in run where interval.high >= only.low {
                    if interval.low <= only.low && interval.high >= only.high { return true }
                    break
                }
            }
            spare.removeAll(keepingCapacity: true)
            running.withUnsafeBufferPointer { StateIntervals.intersect($0, run, into: &spare) }
            guard !spare.isEmpty else { return false }
            swap(&running, &spare)
            return true
        }

        mutating func reset(_ run: UnsafeBufferPointer<StateInterval>) {
            running.removeAll(keepingCapacity: true)
            running.append(contentsOf: run)
        }

        mutating func reset(_ set: StateSet) {
            running.removeAll(keepingCapacity: true)
            for interval in set.intervals { running.append(StateInterval(interval)) }
        }

        /// The states of every position in `range` (empty when they share none).
        mutating func intersectAll(_ range: Range<Int>, _ lines: ExplainedLines) {
            reset(lines.states(range.lowerBound))
            for position in range.dropFirst() where !narrow(lines.states(position)) {
                running.removeAll(keepingCapacity: true)
                return
            }
        }
    }

    // MARK: - Stage 4: gaps and anomalies

    /// A gap or overlap between consecutive arena lines.
    struct CoverageGap {
        var kind: AnomalyKind
        var range: Range<UInt64>
    }

    /// A gap that was not mapped throughout, with the line after it.
    struct OpenGap {
        var range: Range<UInt64>
        var after: Int
    }

    /// What walking the arena lines in file order finds between them.
    struct CoverageFindings {
        /// Missing (mapped throughout) and duplicated ranges, keyed by the
        /// line index after them.
        var gaps: [Int: CoverageGap]
        var openGaps: [OpenGap]
        /// After the last line: a range mapped throughout, or one that was not.
        var tailGap: Range<UInt64>?
        var openTailGap: Range<UInt64>?
    }

    func findCoverageGaps(_ explanation: LineExplanation, _ attributed: SnapshotLines) -> CoverageFindings {
        let table = attributed.table
        let snapshotWindow = attributed.snapshotWindow
        var findings = CoverageFindings(gaps: [:], openGaps: [], tailGap: nil, openTailGap: nil)
        var cursor = arena.lowerBound
        for index in explanation.arenaLines {
            let start = table.start(index)
            let end = table.end(index)
            if start > cursor {
                let gap = cursor..<start
                if truth.alwaysMapped(gap, over: snapshotWindow) {
                    findings.gaps[index] = CoverageGap(kind: .missing, range: gap)
                } else {
                    findings.openGaps.append(OpenGap(range: gap, after: index))
                }
            } else if start < cursor {
                findings.gaps[index] = CoverageGap(kind: .duplicated, range: start..<min(cursor, end))
            }
            cursor = max(cursor, end)
        }
        if cursor < arena.upperBound,
           attributed.reads.contains(where: { $0.returned == 0 }) || attributed.reachedEOFFlag {
            let gap = cursor..<arena.upperBound
            if truth.alwaysMapped(gap, over: snapshotWindow) { findings.tailGap = gap } else { findings.openTailGap = gap }
        }
        return findings
    }

    /// Every anomaly of the snapshot, sorted by line and kind. Gaps inside
    /// an epoch narrow its states to those at which the gap was unmapped.
    func collectAnomalies(
        _ explanation: LineExplanation, _ split: inout EpochSplit, _ findings: CoverageFindings,
        _ attributed: SnapshotLines
    ) -> [Anomaly] {
        let lines = attributed.lines
        let lineReads = attributed.lineReads
        let reads = attributed.reads
        let snapshotWindow = attributed.snapshotWindow
        let arenaLines = explanation.arenaLines
        let explainedLines = explanation.explainedLines
        var coverage = findings.gaps
        var anomalies = explanation.phantoms
        /// Where arena line `index` is in `arenaLines`.
        func position(ofArenaLine index: Int) -> Int? {
            let position = arenaLines.partitionPoint { $0 >= index }
            return position < arenaLines.count && arenaLines[position] == index ? position : nil
        }

        // Each epoch break is one anomaly; a coverage anomaly at the same
        // line names its kind.
        for epochIndex in split.epochs.indices.dropFirst() {
            let before = split.epochs[epochIndex - 1]
            let after = split.epochs[epochIndex]
            let first = explainedLines[after.positions.lowerBound]
            let previous = explainedLines[before.positions.upperBound - 1]
            let boundary = boundary(before: previous, after: first, attributed)
            let gapMutations = mutationsBetween(before.states, after.states)
            if let found = coverage.removeValue(forKey: first) {
                let culprits = pick(gapMutations, touching: [found.range], widen: true)
                anomalies.append(makeAnomaly(
                    kind: found.kind, boundary: boundary, range: found.range, culprits: culprits,
                    detail: coverageDetail(found.kind, found.range, lines[previous], lines[first])))
            } else {
                // The culprits changed what had already been printed: the
                // first mutation of the gap always does (it is what ended the
                // earlier epoch's last explaining state).
                let table = attributed.table
                let printed = explainedLines[before.positions].lazy.map { table.start($0)..<table.end($0) }
                let culprits = pick(gapMutations, touching: printed, widen: true)
                let range = hull(of: culprits) ?? (table.start(first)..<table.end(first))
                let kind: AnomalyKind = boundary.beforeRead == boundary.afterRead ? .intraRead : .torn
                anomalies.append(makeAnomaly(
                    kind: kind, boundary: boundary, range: range, culprits: culprits,
                    detail: tornDetail(
                        kind, before: before, after: after, explainedLines: explainedLines, attributed: attributed,
                        culprits: culprits)))
            }
        }
        // Coverage anomalies where no epoch broke (e.g. a kernel that
        // resumes by line index skipping a line).
        for (index, found) in coverage.sorted(by: { $0.key < $1.key }) {
            let position = position(ofArenaLine: index) ?? 0
            let previous = position > 0 ? arenaLines[position - 1] : max(index - 1, 0)
            let boundary = boundary(before: previous, after: index, attributed)
            let span: ClosedRange<Int>
            if reads.isEmpty {
                span = snapshotWindow
            } else {
                let low = attributed.windows[lineReads[previous]].lowerBound
                span = low...max(low, attributed.windows[lineReads[index]].upperBound)
            }
            let culprits = pick(span.lowerBound..<span.upperBound, touching: [found.range], widen: true, fallBackToAll: false)
            anomalies.append(makeAnomaly(
                kind: found.kind, boundary: boundary, range: found.range, culprits: culprits,
                detail: coverageDetail(found.kind, found.range, lines[previous], lines[index])))
        }
        if let gap = findings.tailGap {
            let last = arenaLines.last
            let lastRead = max(reads.count - 1, 0)
            let beforeRead = last.map { lineReads[$0] } ?? lastRead
            let boundary = Boundary(
                beforeRead: beforeRead, afterRead: min(beforeRead + 1, lastRead),
                byteOffset: UInt64(attributed.byteCount), line: (last ?? -1) + 2)
            anomalies.append(makeAnomaly(
                kind: .missing, boundary: boundary, range: gap, culprits: [],
                detail: "\(addressString(gap.lowerBound))-\(addressString(gap.upperBound)) was mapped throughout the snapshot but no line shows it (the walk ended before it)"))
        }
        // A gap inside an epoch must be unmapped at the state that explains
        // the epoch: the lines around it then cover exactly what that state
        // had mapped. When no explaining state has it unmapped, the lines and
        // the gap never coexisted: torn (not `missing`, which is for ranges
        // mapped throughout, the kernel's guarantee).
        let epochOfLine = split.lineEpochs.map { $0 < 0 ? nil : Int($0) }
        if let gap = findings.openTailGap, let last = arenaLines.last(where: { epochOfLine[$0] != nil }),
           let epochIndex = epochOfLine[last] {
            let narrowed = split.epochs[epochIndex].states.intersection(truth.unmappedStates(gap, within: snapshotWindow))
            if narrowed.isEmpty {
                let span = "\(addressString(gap.lowerBound))-\(addressString(gap.upperBound))"
                anomalies.append(makeAnomaly(
                    kind: .torn,
                    boundary: Boundary(
                        beforeRead: lineReads[last], afterRead: max(reads.count - 1, lineReads[last]),
                        byteOffset: UInt64(attributed.byteCount), line: last + 2),
                    range: gap,
                    culprits: pick(
                        snapshotWindow.lowerBound..<snapshotWindow.upperBound, touching: [gap], widen: false,
                        fallBackToAll: false),
                    detail: "\(span) was mapped at every state that explains the last lines (\(split.epochs[epochIndex].states)), but the walk ended before it"))
            } else {
                split.epochs[epochIndex].states = narrowed
            }
        }
        for gap in findings.openGaps {
            guard let epochIndex = epochOfLine[gap.after] else { continue }
            let position = position(ofArenaLine: gap.after) ?? 0
            let previous = position > 0 ? arenaLines[position - 1] : nil
            // A gap between two epochs lies at a break already reported.
            if let previous, epochOfLine[previous] != epochIndex { continue }
            let unmapped = truth.unmappedStates(gap.range, within: snapshotWindow)
            let narrowed = split.epochs[epochIndex].states.intersection(unmapped)
            if !narrowed.isEmpty {
                split.epochs[epochIndex].states = narrowed
                continue
            }
            let place = previous.map {
                self.boundary(before: $0, after: gap.after, attributed)
            } ?? Boundary(
                beforeRead: max(lineReads[gap.after] - 1, 0), afterRead: lineReads[gap.after],
                byteOffset: UInt64(attributed.table.byteOffset(gap.after)), line: gap.after + 1)
            let culprits = pick(
                snapshotWindow.lowerBound..<snapshotWindow.upperBound, touching: [gap.range], widen: false,
                fallBackToAll: false)
            let span = "\(addressString(gap.range.lowerBound))-\(addressString(gap.range.upperBound))"
            anomalies.append(makeAnomaly(
                kind: .torn, boundary: place, range: gap.range, culprits: culprits,
                detail: "\(span) was mapped at every state that explains the lines around it (\(split.epochs[epochIndex].states)), but no line shows it"))
        }

        anomalies.sort { ($0.boundary.line, $0.kind) < ($1.boundary.line, $1.kind) }
        return anomalies
    }

    // MARK: - Stage 5: report

    func report(
        _ snapshot: ObservedSnapshot, _ attributed: SnapshotLines, _ explanation: LineExplanation,
        _ split: EpochSplit, _ anomalies: [Anomaly]
    ) -> SnapshotAnalysis {
        let table = attributed.table
        let reads = attributed.reads
        let lineReads = attributed.lineReads
        let epochs = split.epochs
        let explainedLines = explanation.explainedLines
        var unmodeled = explanation.unmodeled
        if let problem = attributed.parseProblem {
            unmodeled.append(UnmodeledLine(line: problem.line, text: "unparsable: \(problem.reason)"))
        }
        let snapshotWindow = attributed.snapshotWindow
        let truthRange = truth.readWritePageRange(over: snapshotWindow)
        let reachedEOF = snapshot.end?.flags.contains(.reachedEOF) ?? reads.contains { $0.returned == 0 }
        let consistent = epochs.count == 1 && anomalies.isEmpty && reachedEOF && attributed.parseProblem == nil
        let epochList = epochs.map { epoch in
            let first = explainedLines[epoch.positions.lowerBound]
            let last = explainedLines[epoch.positions.upperBound - 1]
            return Epoch(
                firstLine: first + 1, lastLine: last + 1, firstRead: lineReads[first], lastRead: lineReads[last],
                stateMin: epoch.states.min ?? 0, stateMax: epoch.states.max ?? 0)
        }
        let beginTime = snapshot.begin?.tBegin ?? reads.first?.tBegin ?? 0
        let endTime = snapshot.end?.tEnd ?? reads.last?.tEnd ?? beginTime
        let analysis = SnapshotAnalysis(
            index: snapshot.index, lines: table.count, arenaLines: explanation.arenaLines.count,
            reads: reads.count, bytes: UInt64(snapshot.bytes.count), consistent: consistent,
            explainingState: consistent ? epochs[0].states.min : nil,
            epochs: epochs.count, epochList: epochList,
            afterMutatorFinished: snapshot.end?.flags.contains(.afterMutatorFinished) ?? false,
            complete: reachedEOF,
            retryAttempt: snapshot.end?.flags.contains(.retryAttempt) ?? false,
            accepted: snapshot.end?.flags.contains(.accepted) ?? false,
            pauseNs: nil,
            stateLo: snapshotWindow.lowerBound, stateHi: snapshotWindow.upperBound,
            durationNs: endTime >= beginTime ? endTime - beginTime : 0,
            rwPagesObserved: explanation.readWritePages,
            rwPagesTruthMin: truthRange.lowerBound, rwPagesTruthMax: truthRange.upperBound,
            anomalies: anomalies, unmodeledLines: unmodeled,
            noOverlap: !anomalies.contains { $0.kind == .duplicated } && !linesGoBackwards(table),
            completeCoverage: !anomalies.contains { $0.kind == .missing })
        return analysis
    }

    // MARK: - Pieces

    /// Parses as much of the snapshot as parses; a read that failed part way
    /// can leave a partial last line.
    static func parsePrefix(_ bytes: [UInt8], format: TextFormat) -> (MapsText, MapsParseError?) {
        func parse(_ bytes: [UInt8]) throws(MapsParseError) -> MapsText {
            switch format {
            case .maps: try MapsParser.parseLinux(bytes)
            case .smapsHeaders: try MapsParser.parseSmapsHeaders(bytes)
            }
        }
        do {
            return (try parse(bytes), nil)
        } catch {
            let prefix = (try? parse(Array(bytes[0..<linesBefore(error.line, in: bytes)]))) ?? MapsText()
            return (prefix, error)
        }
    }

    /// Bytes of the lines before line `line` (1-based): where a parse that
    /// failed on that line can stop.
    static func linesBefore<Bytes: Collection<UInt8>>(_ line: Int, in bytes: Bytes) -> Int {
        var newlines = 0
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            newlines += 1
            if newlines == line - 1 { return offset + 1 }
        }
        return 0
    }

    /// `parsePrefix` into columns, straight from the snapshot's bytes.
    static func parsePrefixTable(_ bytes: [UInt8], format: TextFormat) -> (MapsLineTable, MapsParseError?) {
        bytes.withUnsafeBytes { (bytes) -> (MapsLineTable, MapsParseError?) in
            func parse(_ bytes: UnsafeRawBufferPointer) throws(MapsParseError) -> MapsLineTable {
                switch format {
                case .maps: try MapsParser.parseLinuxTable(bytes)
                case .smapsHeaders: try MapsParser.parseSmapsHeadersTable(bytes)
                }
            }
            do throws(MapsParseError) {
                return (try parse(bytes), nil)
            } catch {
                let cut = linesBefore(error.line, in: bytes)
                let prefix = (try? parse(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]))) ?? MapsLineTable()
                return (prefix, error)
            }
        }
    }

    func linesGoBackwards(_ table: MapsLineTable) -> Bool {
        // The one implementation, shared with `mapsrace check`.
        var order = AddressOrder()
        for (index, row) in table.rows.enumerated() where order.add(start: row.start, end: row.end, line: index + 1) != nil {
            return true
        }
        return false
    }

    func boundary(before previous: Int, after line: Int, _ attributed: SnapshotLines) -> Boundary {
        let lineReads = attributed.lineReads
        guard !attributed.reads.isEmpty, line < lineReads.count else {
            return Boundary(beforeRead: 0, afterRead: 0, byteOffset: 0, line: line + 1)
        }
        let read = lineReads[line]
        if lineReads[previous] == read {
            return Boundary(
                beforeRead: read, afterRead: read, byteOffset: UInt64(attributed.table.byteOffset(line)), line: line + 1)
        }
        return Boundary(beforeRead: read - 1, afterRead: read, byteOffset: attributed.reads[read].offset, line: line + 1)
    }

    /// The mutations that separate two state sets: from the latest state of
    /// the earlier set to the earliest state of the later one. Moving from
    /// state j to j + 1 applies mutation index j.
    func mutationsBetween(_ a: StateSet, _ b: StateSet) -> Range<Int> {
        guard let aMin = a.min, let aMax = a.max, let bMin = b.min, let bMax = b.max else { return 0..<0 }
        if aMax < bMin { return aMax..<bMin }
        if bMax < aMin { return bMax..<aMin }
        return 0..<0
    }

    /// The mutations among `candidates` that touched (or, widened, touched a
    /// page beside) one of `ranges`; all candidates when none did.
    func pick<Ranges: Sequence<Range<UInt64>>>(
        _ candidates: Range<Int>, touching ranges: Ranges, widen: Bool, fallBackToAll: Bool = true
    ) -> [Int] {
        // The ranges' pages as sorted disjoint page ranges, merged as they
        // come when they come in address order (lines in file order do).
        var merged: [Range<Int>] = []
        var outOfOrder: [Range<Int>] = []
        func merge(_ range: Range<Int>, into merged: inout [Range<Int>]) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        for range in ranges {
            let low = max(range.lowerBound, arena.lowerBound)
            let high = min(range.upperBound, arena.upperBound)
            guard low < high else { continue }
            let first = truth.page(containing: low) - (widen ? 1 : 0)
            let last = Int((high - arena.lowerBound + truth.pageSize - 1) / truth.pageSize) + (widen ? 1 : 0)
            if let previous = merged.last, first < previous.lowerBound {
                outOfOrder.append(first..<last)
            } else {
                merge(first..<last, into: &merged)
            }
        }
        if !outOfOrder.isEmpty {
            let all = (merged + outOfOrder).sorted { $0.lowerBound < $1.lowerBound }
            merged.removeAll()
            for range in all { merge(range, into: &merged) }
        }
        // Then look each candidate up.
        let chosen = candidates.filter { index in
            let touched = truth.pagesTouched(byMutation: index)
            guard !touched.isEmpty else { return false }
            // The first merged range that ends after the touched range starts.
            let position = merged.partitionPoint { $0.upperBound > touched.lowerBound }
            return position < merged.count && merged[position].overlaps(touched)
        }
        return chosen.isEmpty && fallBackToAll ? Array(candidates) : chosen
    }

    func hull(of culprits: [Int]) -> Range<UInt64>? {
        let ranges = culprits.map { truth.pagesTouched(byMutation: $0) }.filter { !$0.isEmpty }
        guard let low = ranges.map(\.lowerBound).min(), let high = ranges.map(\.upperBound).max() else { return nil }
        return (arena.lowerBound + UInt64(low) * truth.pageSize)..<(arena.lowerBound + UInt64(high) * truth.pageSize)
    }

    func makeAnomaly(kind: AnomalyKind, boundary: Boundary, range: Range<UInt64>, culprits: [Int], detail: String) -> Anomaly {
        Anomaly(
            kind: kind, boundary: boundary,
            start: addressString(range.lowerBound), end: addressString(range.upperBound),
            culprits: culprits.map { mutations[$0].sequence },
            culpritDetails: culprits.prefix(Self.detailedCulprits).map { culprit(mutations[$0]) },
            detail: detail)
    }

    func culprit(_ mutation: MutationRecord) -> Culprit {
        Culprit(
            sequence: mutation.sequence, kind: mutation.kind.description,
            timeNs: Int64(bitPattern: mutation.tBegin &- origin),
            address: addressString(mutation.address), length: mutation.length,
            prot: Permissions(prot: mutation.prot).description.dropLast().description)
    }

    func phantom(line: MapsLine, index: Int, _ attributed: SnapshotLines) -> Anomaly {
        let read = attributed.reads.isEmpty ? 0 : attributed.lineReads[index]
        let straddles = line.start < arena.lowerBound || line.end > arena.upperBound
        let reason = straddles
            ? "crosses the arena's edge"
            : match == .exact
                ? "is not a mapping of any state possible while read \(read) was in the kernel"
                : "has permissions no state possible while read \(read) was in the kernel gave all its pages"
        return Anomaly(
            kind: .phantom,
            boundary: Boundary(beforeRead: read, afterRead: read, byteOffset: UInt64(attributed.table.byteOffset(index)), line: index + 1),
            start: addressString(line.start), end: addressString(line.end), culprits: [], culpritDetails: [],
            detail: "line \(index + 1) `\(line)` \(reason)")
    }

    func coverageDetail(_ kind: AnomalyKind, _ range: Range<UInt64>, _ previous: MapsLine, _ line: MapsLine) -> String {
        let span = "\(addressString(range.lowerBound))-\(addressString(range.upperBound))"
        switch kind {
        case .duplicated:
            return "\(span) reported twice: `\(previous.start.hexRange(previous.end)) \(previous.permissions)` then `\(line.start.hexRange(line.end)) \(line.permissions)`; the walk resumed inside a mapping it had already printed"
        default:
            return "\(span) was mapped throughout the snapshot but no line shows it: the walk went from `\(previous.start.hexRange(previous.end))` to `\(line.start.hexRange(line.end))`"
        }
    }

    func tornDetail(
        _ kind: AnomalyKind, before: EpochSpan, after: EpochSpan, explainedLines: [Int], attributed: SnapshotLines,
        culprits: [Int]
    ) -> String {
        let printed = explainedLines[before.positions]
        let first = printed.first! + 1
        let last = printed.last! + 1
        let next = explainedLines[after.positions.lowerBound] + 1
        var text = "lines \(first)-\(last) show states \(before.states), line \(next) on shows states \(after.states)"
        if let stale = printed.first(where: { index in
            let pages = pageRange(attributed.table.start(index), attributed.table.end(index))
            return culprits.contains { truth.pagesTouched(byMutation: $0).overlaps(pages) }
        }) {
            let line = attributed.lines[stale]
            text += "; line \(stale + 1) `\(line.start.hexRange(line.end)) \(line.permissions)` was already printed when the culprits changed it"
        }
        if kind == .intraRead { text += "; the break is inside one read(2)" }
        return text
    }

    func pageRange(_ start: UInt64, _ end: UInt64) -> Range<Int> {
        let low = max(start, arena.lowerBound)
        let high = min(end, arena.upperBound)
        guard low < high else { return 0..<0 }
        return truth.page(containing: low)..<Int((high - arena.lowerBound) / truth.pageSize)
    }
}

extension UInt64 {
    /// `start-end` in the kernel's maps layout.
    func hexRange(_ end: UInt64) -> String {
        "\(hex(self, width: 8))-\(hex(end, width: 8))"
    }
}
