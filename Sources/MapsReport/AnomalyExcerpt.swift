import MapsAnalysis
import MapsModel
import MapsTrace

/// The `diff` excerpt around one anomaly: the observed lines near its
/// boundary against the reconstructed maps at the state of the epoch just
/// before it, with read markers and epoch tags as `mapsrace diff` prints them.
struct AnomalyExcerpt {
    /// Observed lines shown on each side of the boundary.
    static let radius = 5

    var state: Int
    var stateLabel: String
    var text: String

    init(anomaly: Anomaly, verdict: SnapshotVerdict, analysis: TraceAnalysis) {
        let lines = verdict.text.lines
        let epochs = verdict.analysis.epochList
        let boundaryLine = min(max(anomaly.boundary.line - 1, 0), max(lines.count - 1, 0))
        // The epoch in force before the boundary: the last epoch-tagged line above it.
        var before: Int?
        var scan = boundaryLine - 1
        while scan >= 0 && before == nil {
            before = verdict.lineEpochs[scan]
            scan -= 1
        }
        if let epoch = before, epoch < epochs.count {
            state = epochs[epoch].stateMin
            stateLabel = "state \(state) (epoch \(epoch), before the boundary)"
        } else if let first = epochs.first {
            state = first.stateMin
            stateLabel = "state \(state) (epoch 0)"
        } else {
            state = analysis.truth.baseState
            stateLabel = "state \(state) (the initial quiescent maps)"
        }
        guard !lines.isEmpty else {
            text = "(the snapshot has no lines)"
            return
        }
        let window = max(0, boundaryLine - Self.radius)..<min(lines.count, boundaryLine + Self.radius + 1)
        let observed = Array(lines[window])
        let low = observed.map(\.start).min() ?? 0
        let high = observed.map(\.end).max() ?? 0
        let reconstructed = analysis.maps(at: state).filter { $0.end > low && $0.start < high }
        let hunks = LineDiff.hunks(old: reconstructed, new: observed, context: 3)
        let reads = verdict.snapshot.reads
        let origin = analysis.context.header.originNs
        var out = "--- reconstructed maps at \(stateLabel), addresses \(addressString(low))-\(addressString(high))\n"
        out += "+++ observed snapshot \(verdict.analysis.index), lines \(window.lowerBound + 1)-\(window.upperBound)\n"
        if hunks.isEmpty {
            out += "(no differences: these lines are exactly the maps at \(stateLabel))\n"
        }
        func marker(_ read: Int) -> String {
            guard read < reads.count else { return "## read \(read)" }
            let chunk = reads[read]
            let end = chunk.offset.addingReportingOverflow(UInt64(max(chunk.returned, 0)))
            let time = ReportText.milliseconds(Int64(bitPattern: chunk.tBegin &- origin))
            return "## read \(read): bytes \(chunk.offset)-\(end.overflow ? UInt64.max : end.partialValue), requested \(chunk.requested), at \(time)"
        }
        func tag(_ index: Int) -> String {
            if let epoch = verdict.lineEpochs[index] { return "epoch \(epoch)" }
            let line = lines[index]
            return line.end <= verdict.arena.lowerBound || line.start >= verdict.arena.upperBound
                ? "outside the arena" : "phantom"
        }
        for hunk in hunks {
            let first = window.lowerBound + hunk.newRange.lowerBound + 1
            out += "@@ observed line \(first)\(hunk.newRange.count > 1 ? "-\(first + hunk.newRange.count - 1)" : "") @@\n"
            var lastRead: Int?
            for edit in hunk.edits {
                switch edit {
                case .context(_, let newIndex):
                    let index = window.lowerBound + newIndex
                    if verdict.lineReads[index] != lastRead { lastRead = verdict.lineReads[index]; out += marker(lastRead!) + "\n" }
                    out += " " + lines[index].description + "\n"
                case .removed(let oldIndex):
                    out += "-" + reconstructed[oldIndex].description + "\n"
                case .added(let newIndex):
                    let index = window.lowerBound + newIndex
                    if verdict.lineReads[index] != lastRead { lastRead = verdict.lineReads[index]; out += marker(lastRead!) + "\n" }
                    out += "+" + lines[index].description + "    [\(tag(index))]" + (index == boundaryLine ? "  <- boundary" : "") + "\n"
                }
            }
        }
        text = out
    }
}
