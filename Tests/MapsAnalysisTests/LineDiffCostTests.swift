import MapsAnalysis
import Testing

/// A line that counts how often it is compared, to bound the diff's work
/// without timing it.
private struct CountedLine: Hashable {
    nonisolated(unsafe) static var comparisons = 0
    let text: String

    static func == (left: CountedLine, right: CountedLine) -> Bool {
        comparisons += 1
        return left.text == right.text
    }

    func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// `diff` against a forged read chunk of megabytes (issue 9, finding 3):
/// the work grows linearly with the lines compared, not with their square.
@Suite(.serialized) struct LineDiffCostTests {
    private func comparisons(old: [String], new: [String]) -> (count: Int, changed: (removed: Int, added: Int)) {
        CountedLine.comparisons = 0
        let result = LineDiff.changedLines(old: old.map(CountedLine.init), new: new.map(CountedLine.init))
        return (CountedLine.comparisons, (result.removed.filter { $0 }.count, result.added.filter { $0 }.count))
    }

    @Test(arguments: [4_000, 16_000])
    func entirelyDifferentInputsCostLinearWork(lines: Int) {
        // The reconstructed maps against a chunk of lines none of which it has.
        let old = (0..<lines / 8).map { "mapping \($0)" }
        let new = (0..<lines).map { "forged \($0)" }
        let result = comparisons(old: old, new: new)
        #expect(result.changed.removed == old.count && result.changed.added == new.count)
        #expect(result.count <= 2 * LineDiff.exactLimit * (old.count + new.count),
                "\(result.count) comparisons for \(old.count) + \(new.count) lines")
        // Quadratic would be (old + new)^2 / 2 and more.
        #expect(result.count * 4 < (old.count + new.count) * (old.count + new.count) / 2 || lines < 4 * LineDiff.exactLimit)
    }

    @Test func interleavedChangesCostLinearWork() {
        // Every other line differs: D is about the input's size, the worst case for a shortest edit script.
        let count = 40_000
        let old = (0..<count).map { "line \($0)" }
        let new = (0..<count).map { $0 % 2 == 0 ? "line \($0)" : "other \($0)" }
        let result = comparisons(old: old, new: new)
        // The unchanged half is kept: every common line is unique, so each is an anchor.
        #expect(result.changed.removed == count / 2 && result.changed.added == count / 2)
        #expect(result.count <= 16 * (old.count + new.count), "\(result.count) comparisons")
    }

    @Test func repeatedLinesWithoutAnchorsCostLinearWork() {
        // No line unique on both sides: a chunk repeating one line.
        let old = (0..<20_000).map { "line \($0 % 3)" }
        let new = (0..<20_000).map { "line \(($0 + 1) % 3)" } + ["end"]
        let result = comparisons(old: old, new: new)
        #expect(result.count <= 2 * LineDiff.exactLimit * (old.count + new.count), "\(result.count) comparisons")
        #expect(result.changed.added - result.changed.removed == 1)
    }
}
