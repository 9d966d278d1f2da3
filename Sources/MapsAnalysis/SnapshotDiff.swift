import MapsModel
import MapsTrace

/// A unified diff of the reconstructed maps at one state against one
/// observed snapshot, with a marker line at every read boundary and each
/// observed line that differs tagged with its epoch.
public enum SnapshotDiff {
    public static func render(
        verdict: SnapshotVerdict, reconstructed: [MapsLine], stateLabel: String,
        origin: UInt64, context: Int = 3, color: Bool = false, tag: String? = nil
    ) -> String {
        let observed = verdict.text.lines
        let bytes = verdict.snapshot.bytes
        let reads = verdict.snapshot.reads
        let paint = Painter(enabled: color)

        /// The observed line exactly as read, up to its newline (in smaps,
        /// the mapping's field lines that follow it are not part of it).
        func observedText(_ index: Int) -> String {
            let start = verdict.text.byteOffsets[index]
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        /// `tag` for every differing line when given (a snapshot of
        /// another address space than the arena's has no epochs).
        func epochTag(_ index: Int) -> String {
            if let tag { return tag }
            if let epoch = verdict.lineEpochs[index] { return "epoch \(epoch)" }
            let line = observed[index]
            return line.end <= verdict.arena.lowerBound || line.start >= verdict.arena.upperBound
                ? "outside the arena" : "phantom"
        }
        func marker(_ read: Int) -> String {
            guard read < reads.count else { return paint.marker("## read \(read)") }
            let chunk = reads[read]
            // Saturating: a forged offset must not trap the rendering.
            let (sum, overflow) = chunk.offset.addingReportingOverflow(UInt64(max(chunk.returned, 0)))
            let end = overflow ? UInt64.max : sum
            let time = ReportText.milliseconds(Int64(bitPattern: chunk.tBegin &- origin))
            return paint.marker("## read \(read): bytes \(chunk.offset)-\(end), requested \(chunk.requested), at \(time)")
        }
        var out = paint.header("--- reconstructed maps at \(stateLabel)") + "\n"
        out += paint.header("+++ observed snapshot \(verdict.analysis.index): \(observed.count) lines in \(reads.count) reads, \(verdict.analysis.epochs) epoch(s)") + "\n"
        let hunks = LineDiff.hunks(old: reconstructed, new: observed, context: context)
        if hunks.isEmpty {
            out += "(no differences: the snapshot is exactly the maps at \(stateLabel))\n"
            return out
        }
        for hunk in hunks {
            out += paint.hunk(hunk.header) + "\n"
            var lastRead: Int?
            for edit in hunk.edits {
                switch edit {
                case .context(_, let newIndex):
                    let read = verdict.lineReads[newIndex]
                    if read != lastRead { out += marker(read) + "\n"; lastRead = read }
                    out += " " + observedText(newIndex) + "\n"
                case .removed(let oldIndex):
                    out += paint.removed("-" + reconstructed[oldIndex].description) + "\n"
                case .added(let newIndex):
                    let read = verdict.lineReads[newIndex]
                    if read != lastRead { out += marker(read) + "\n"; lastRead = read }
                    out += paint.added("+" + observedText(newIndex)) + paint.tag("    [\(epochTag(newIndex))]") + "\n"
                }
            }
        }
        return out
    }

    struct Painter {
        let enabled: Bool
        func wrap(_ text: String, _ code: String) -> String {
            enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
        }
        func header(_ text: String) -> String { wrap(text, "1") }
        func hunk(_ text: String) -> String { wrap(text, "36") }
        func marker(_ text: String) -> String { wrap(text, "33") }
        func removed(_ text: String) -> String { wrap(text, "31") }
        func added(_ text: String) -> String { wrap(text, "32") }
        func tag(_ text: String) -> String { wrap(text, "2") }
    }
}
