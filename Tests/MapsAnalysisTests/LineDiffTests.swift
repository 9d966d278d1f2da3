import MapsSystem
import Testing
@testable import MapsAnalysis

/// Lines "1" ... "n", the way `seq 1 n` prints them.
private func numbered(_ range: ClosedRange<Int>) -> [String] { range.map(String.init) }

private func diffText(_ old: [String], _ new: [String], context: Int = 3) -> String {
    LineDiff.unifiedText(LineDiff.hunks(old: old, new: new, context: context), old: old, new: new)
}

@Suite struct LineDiffShapeTests {
    @Test func identicalInputsHaveNoHunks() {
        #expect(LineDiff.hunks(old: numbered(1...50), new: numbered(1...50)).isEmpty)
        #expect(LineDiff.hunks(old: [String](), new: [String]()).isEmpty)
    }

    @Test func emptyOldSideIsOneInsertionHunk() {
        let hunks = LineDiff.hunks(old: [], new: numbered(1...3))
        #expect(hunks.count == 1)
        #expect(hunks.first?.header == "@@ -0,0 +1,3 @@")
        #expect(hunks.first?.edits == [.added(newIndex: 0), .added(newIndex: 1), .added(newIndex: 2)])
    }

    @Test func emptyNewSideIsOneDeletionHunk() {
        let hunks = LineDiff.hunks(old: numbered(1...10), new: [])
        #expect(hunks.count == 1)
        #expect(hunks.first?.header == "@@ -1,10 +0,0 @@")
        #expect(hunks.first?.edits == (0..<10).map { .removed(oldIndex: $0) })
    }

    @Test func insertAtStart() {
        let old = numbered(1...10)
        #expect(diffText(old, ["X"] + old) == "@@ -1,3 +1,4 @@\n+X\n 1\n 2\n 3\n")
    }

    @Test func deleteInMiddle() {
        let old = numbered(1...10)
        let new = old.filter { $0 != "5" }
        let hunks = LineDiff.hunks(old: old, new: new)
        #expect(hunks.count == 1)
        #expect(hunks.first?.oldStart == 2 && hunks.first?.oldCount == 7)
        #expect(hunks.first?.newStart == 2 && hunks.first?.newCount == 6)
        #expect(hunks.first?.oldRange == 1..<8 && hunks.first?.newRange == 1..<7)
        #expect(diffText(old, new) == "@@ -2,7 +2,6 @@\n 2\n 3\n 4\n-5\n 6\n 7\n 8\n")
    }

    @Test func replaceAtEnd() {
        let old = numbered(1...10)
        let new = numbered(1...9) + ["Z"]
        let hunks = LineDiff.hunks(old: old, new: new)
        #expect(hunks.first?.edits == [
            .context(oldIndex: 6, newIndex: 6), .context(oldIndex: 7, newIndex: 7),
            .context(oldIndex: 8, newIndex: 8), .removed(oldIndex: 9), .added(newIndex: 9),
        ])
        #expect(diffText(old, new) == "@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+Z\n")
    }

    @Test func deleteAtStartAndInsertAtEnd() {
        let old = numbered(1...10)
        let new = numbered(2...10) + ["11"]
        #expect(diffText(old, new, context: 1) == "@@ -1,2 +1 @@\n-1\n 2\n@@ -10 +9,2 @@\n 10\n+11\n")
    }

    @Test func replaceInMiddleListsRemovalsBeforeAdditions() {
        let old = ["a", "b", "c", "d", "e"]
        let new = ["a", "X", "Y", "e"]
        #expect(diffText(old, new, context: 1) == "@@ -1,5 +1,4 @@\n a\n-b\n-c\n-d\n+X\n+Y\n e\n")
    }

    @Test func pureInsertionWithoutContextNamesTheLineBefore() {
        let old = numbered(1...10)
        let new = numbered(1...5) + ["P", "Q"] + numbered(6...10)
        let hunks = LineDiff.hunks(old: old, new: new, context: 0)
        #expect(hunks.map(\.header) == ["@@ -5,0 +6,2 @@"])
        #expect(hunks.first?.oldRange == 5..<5 && hunks.first?.newRange == 5..<7)
    }

    @Test func changesTwiceTheContextApartShareAHunk() {
        let old = numbered(1...20)
        let sixApart = old.map { $0 == "3" ? "C" : $0 == "10" ? "D" : $0 }
        #expect(LineDiff.hunks(old: old, new: sixApart).map(\.header) == ["@@ -1,13 +1,13 @@"])
        let sevenApart = old.map { $0 == "3" ? "C" : $0 == "11" ? "D" : $0 }
        #expect(LineDiff.hunks(old: old, new: sevenApart).map(\.header) == ["@@ -1,6 +1,6 @@", "@@ -8,7 +8,7 @@"])
    }

    @Test func largeInputsWithFewScatteredChanges() {
        // The size of a seed snapshot: 65 000 lines, a handful of them changed.
        let old = (0..<65_000).map { "line \($0)" }
        var new = old
        new[10] = "changed 10"
        new.remove(at: 30_000)
        new.insert("inserted", at: 50_000)
        new[64_000] = "changed 64000"  // old line 64 000: one removed and one inserted before it
        let (removed, added) = LineDiff.changedLines(old: old, new: new)
        #expect(removed.indices.filter { removed[$0] } == [10, 30_000, 64_000])
        #expect(added.indices.filter { added[$0] } == [10, 50_000, 64_000])
        #expect(LineDiff.hunks(old: old, new: new).count == 4)
    }
}


/// Length of a longest common subsequence, by the textbook O(NM) table.
private func longestCommonSubsequence(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(repeating: 0, count: b.count + 1)
    for x in a {
        var current = Array(repeating: 0, count: b.count + 1)
        for (j, y) in b.enumerated() {
            current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j])
        }
        previous = current
    }
    return previous[b.count]
}

/// Applies hunks to `old` the way `patch` would; nil when a context or
/// removed line does not match, or hunks overlap or run backwards.
private func apply(_ hunks: [DiffHunk], to old: [Character], taking new: [Character]) -> [Character]? {
    var result: [Character] = []
    var cursor = 0
    for hunk in hunks {
        guard hunk.oldRange.lowerBound >= cursor else { return nil }
        result += old[cursor..<hunk.oldRange.lowerBound]
        cursor = hunk.oldRange.lowerBound
        for edit in hunk.edits {
            switch edit {
            case let .context(oldIndex, newIndex):
                guard oldIndex == cursor, old[oldIndex] == new[newIndex] else { return nil }
                result.append(old[oldIndex])
                cursor += 1
            case let .removed(oldIndex):
                guard oldIndex == cursor else { return nil }
                cursor += 1
            case let .added(newIndex):
                result.append(new[newIndex])
            }
        }
        guard cursor == hunk.oldRange.upperBound else { return nil }
    }
    return result + old[cursor...]
}

@Suite struct LineDiffPropertyTests {
    @Test(arguments: [0, 1, 3])
    func randomInputsPatchAndAreMinimal(context: Int) {
        var random = SplitMix64(seed: 0x6D61_7073 &+ UInt64(context))
        let alphabet: [Character] = ["a", "b", "c", "d"]
        for _ in 0..<2_000 {
            let old = (0..<Int.random(in: 0...14, using: &random)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let new = (0..<Int.random(in: 0...14, using: &random)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let hunks = LineDiff.hunks(old: old, new: new, context: context)
            let patched = apply(hunks, to: old, taking: new)
            #expect(patched == new, "old \(String(old)) new \(String(new))")

            let common = longestCommonSubsequence(old, new)
            var removals = 0, additions = 0
            for edit in hunks.flatMap(\.edits) {
                if case .removed = edit { removals += 1 }
                if case .added = edit { additions += 1 }
            }
            #expect(removals == old.count - common && additions == new.count - common,
                    "not minimal: old \(String(old)) new \(String(new))")
            #expect(hunks.isEmpty == (old == new))
            // Each hunk's counts agree with its lines.
            for hunk in hunks {
                let oldLines = hunk.edits.filter { if case .added = $0 { false } else { true } }.count
                let newLines = hunk.edits.filter { if case .removed = $0 { false } else { true } }.count
                #expect(oldLines == hunk.oldCount && newLines == hunk.newCount)
            }
        }
    }
}
