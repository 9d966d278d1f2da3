// Which lines changed between two sequences of lines, grouped into
// unified-diff hunks.
//
// Small comparisons get a shortest edit script (Myers, "An O(ND) Difference
// Algorithm and Its Variations", 1986, with the linear-space divide-and-
// conquer refinement of section 4b): O((N + M) * D) time, O(N + M) memory.
// D can be as large as N + M, so a box of more than `exactLimit` lines is
// first cut at anchors (patience diff): lines that occur exactly once on each
// side, kept in the longest run whose order agrees on both sides (found in
// O(n log n)). The boxes between anchors are cut again the same way, at most
// `anchorDepth` times; what is still larger than `exactLimit` after that, or
// has no anchor at all, is reported as replaced whole. The whole comparison
// thus costs O((N + M) log(N + M) + (N + M) * exactLimit), however different
// the inputs are (a forged read chunk of megabytes), and stays exact for the
// maps texts it is for: their lines are unique (one address range each) and
// few of them change. Common leading and trailing runs are skipped first.
//
// Presentation is the caller's business: hunks carry indices into the two
// inputs, never text. `unifiedText` is a plain rendering for tests and logs.

/// One line of a hunk, by its index in the old and/or new input (0-based).
public enum DiffEdit: Sendable, Equatable, Hashable {
    /// The same line in both inputs.
    case context(oldIndex: Int, newIndex: Int)
    /// A line of the old input that the new one does not have.
    case removed(oldIndex: Int)
    /// A line of the new input that the old one does not have.
    case added(newIndex: Int)
}

/// A run of changes with the unchanged lines around them, as in a unified diff.
public struct DiffHunk: Sendable, Equatable {
    /// The old lines the hunk covers (0-based, half-open); empty for a pure insertion.
    public var oldRange: Range<Int>
    /// The new lines the hunk covers (0-based, half-open); empty for a pure deletion.
    public var newRange: Range<Int>
    /// The hunk's lines in output order: context, then for each change its
    /// removed lines before its added lines.
    public var edits: [DiffEdit]

    public init(oldRange: Range<Int>, newRange: Range<Int>, edits: [DiffEdit]) {
        self.oldRange = oldRange
        self.newRange = newRange
        self.edits = edits
    }

    /// The numbers of the unified header `@@ -oldStart,oldCount +newStart,newCount @@`:
    /// 1-based, and for an empty side the number of the line before it (0 at the top),
    /// as GNU diff prints them.
    public var oldStart: Int { oldRange.isEmpty ? oldRange.lowerBound : oldRange.lowerBound + 1 }
    public var oldCount: Int { oldRange.count }
    public var newStart: Int { newRange.isEmpty ? newRange.lowerBound : newRange.lowerBound + 1 }
    public var newCount: Int { newRange.count }

    /// `@@ -3,7 +3,6 @@`; a count of 1 is left out, as GNU diff does.
    public var header: String {
        func side(_ start: Int, _ count: Int) -> String { count == 1 ? "\(start)" : "\(start),\(count)" }
        return "@@ -\(side(oldStart, oldCount)) +\(side(newStart, newCount)) @@"
    }
}

public enum LineDiff {
    /// The hunks of a minimal diff from `old` to `new`, each with up to
    /// `context` unchanged lines before and after its changes. Two changes
    /// separated by at most `2 * context` unchanged lines share a hunk.
    /// Identical inputs give no hunks.
    public static func hunks<Line: Hashable>(old: [Line], new: [Line], context: Int = 3) -> [DiffHunk] {
        let changes = changedLines(old: old, new: new)
        return group(changes, oldCount: old.count, newCount: new.count, context: max(0, context))
    }

    /// Boxes of at most this many lines (both sides together) get a
    /// shortest edit script.
    public static let exactLimit = 1024
    /// How many times a larger box is cut at anchors before what remains of
    /// it is taken as replaced whole.
    public static let anchorDepth = 4

    /// Which lines an edit script removes from `old` and adds from `new`
    /// (a shortest one unless the inputs are large and very different: see
    /// above). Every other line is kept, and kept lines pair up in order.
    public static func changedLines<Line: Hashable>(old: [Line], new: [Line]) -> (removed: [Bool], added: [Bool]) {
        var search = MyersSearch(old: old, new: new)
        search.compareAnchored(oldLow: 0, oldHigh: old.count, newLow: 0, newHigh: new.count, depth: 0)
        return (search.removed, search.added)
    }

    /// A plain unified diff body (hunk headers and ` `/`-`/`+` lines, each
    /// ending in a newline, no file headers).
    public static func unifiedText<Line>(
        _ hunks: [DiffHunk], old: [Line], new: [Line], render: (Line) -> String = { "\($0)" }
    ) -> String {
        var text = ""
        for hunk in hunks {
            text += hunk.header + "\n"
            for edit in hunk.edits {
                switch edit {
                case let .context(oldIndex, _): text += " " + render(old[oldIndex]) + "\n"
                case let .removed(oldIndex): text += "-" + render(old[oldIndex]) + "\n"
                case let .added(newIndex): text += "+" + render(new[newIndex]) + "\n"
                }
            }
        }
        return text
    }

    /// One maximal run of changed lines: `old[oldRange]` replaced by `new[newRange]`
    /// (either side may be empty), with matched lines on both sides of it.
    private struct ChangeBlock {
        var oldRange: Range<Int>
        var newRange: Range<Int>
    }

    private static func group(
        _ changes: (removed: [Bool], added: [Bool]), oldCount: Int, newCount: Int, context: Int
    ) -> [DiffHunk] {
        // The change blocks, in order. Between two blocks the lines match one to one.
        var blocks: [ChangeBlock] = []
        var oldIndex = 0
        var newIndex = 0
        while oldIndex < oldCount || newIndex < newCount {
            if oldIndex < oldCount, newIndex < newCount, !changes.removed[oldIndex], !changes.added[newIndex] {
                oldIndex += 1
                newIndex += 1
                continue
            }
            let oldLow = oldIndex
            let newLow = newIndex
            while oldIndex < oldCount && changes.removed[oldIndex] { oldIndex += 1 }
            while newIndex < newCount && changes.added[newIndex] { newIndex += 1 }
            blocks.append(ChangeBlock(oldRange: oldLow..<oldIndex, newRange: newLow..<newIndex))
        }

        var hunks: [DiffHunk] = []
        var first = 0
        while first < blocks.count {
            var last = first
            while last + 1 < blocks.count
                && blocks[last + 1].oldRange.lowerBound - blocks[last].oldRange.upperBound <= 2 * context {
                last += 1
            }
            let leading = min(context, blocks[first].oldRange.lowerBound, blocks[first].newRange.lowerBound)
            let trailing = min(
                context, oldCount - blocks[last].oldRange.upperBound, newCount - blocks[last].newRange.upperBound)
            var edits: [DiffEdit] = []
            var oldCursor = blocks[first].oldRange.lowerBound - leading
            var newCursor = blocks[first].newRange.lowerBound - leading
            let oldRange = oldCursor..<(blocks[last].oldRange.upperBound + trailing)
            let newRange = newCursor..<(blocks[last].newRange.upperBound + trailing)
            for block in blocks[first...last] {
                while oldCursor < block.oldRange.lowerBound {
                    edits.append(.context(oldIndex: oldCursor, newIndex: newCursor))
                    oldCursor += 1
                    newCursor += 1
                }
                for removed in block.oldRange { edits.append(.removed(oldIndex: removed)) }
                for added in block.newRange { edits.append(.added(newIndex: added)) }
                oldCursor = block.oldRange.upperBound
                newCursor = block.newRange.upperBound
            }
            while oldCursor < oldRange.upperBound {
                edits.append(.context(oldIndex: oldCursor, newIndex: newCursor))
                oldCursor += 1
                newCursor += 1
            }
            hunks.append(DiffHunk(oldRange: oldRange, newRange: newRange, edits: edits))
            first = last + 1
        }
        return hunks
    }
}

/// The linear-space Myers search. Positions are absolute line indices; a
/// diagonal is `oldIndex - newIndex`.
private struct MyersSearch<Line: Hashable> {
    let old: [Line]
    let new: [Line]
    var removed: [Bool]
    var added: [Bool]
    /// Furthest-reaching old index per diagonal, searching forward from the
    /// top-left corner and backward from the bottom-right one. Indexed by
    /// `diagonal + diagonalOffset`; diagonals run from `-(new.count + 1)` to
    /// `old.count + 1`.
    var forward: [Int]
    var backward: [Int]
    let diagonalOffset: Int

    init(old: [Line], new: [Line]) {
        self.old = old
        self.new = new
        removed = Array(repeating: false, count: old.count)
        added = Array(repeating: false, count: new.count)
        let diagonals = old.count + new.count + 3
        forward = Array(repeating: 0, count: diagonals)
        backward = Array(repeating: 0, count: diagonals)
        diagonalOffset = new.count + 1
    }

    /// Marks the changed lines of `old[oldLow..<oldHigh]` against
    /// `new[newLow..<newHigh]`: exactly for a small box, else cut at anchors.
    mutating func compareAnchored(oldLow: Int, oldHigh: Int, newLow: Int, newHigh: Int, depth: Int) {
        var oldLow = oldLow, oldHigh = oldHigh, newLow = newLow, newHigh = newHigh
        while oldLow < oldHigh && newLow < newHigh && old[oldLow] == new[newLow] {
            oldLow += 1
            newLow += 1
        }
        while oldLow < oldHigh && newLow < newHigh && old[oldHigh - 1] == new[newHigh - 1] {
            oldHigh -= 1
            newHigh -= 1
        }
        if (oldHigh - oldLow) + (newHigh - newLow) <= LineDiff.exactLimit || oldLow == oldHigh || newLow == newHigh {
            compare(oldLow: oldLow, oldHigh: oldHigh, newLow: newLow, newHigh: newHigh)
            return
        }
        let anchors = depth < LineDiff.anchorDepth
            ? uniqueCommonLines(oldLow: oldLow, oldHigh: oldHigh, newLow: newLow, newHigh: newHigh) : []
        guard !anchors.isEmpty else {
            for index in oldLow..<oldHigh { removed[index] = true }
            for index in newLow..<newHigh { added[index] = true }
            return
        }
        var oldCursor = oldLow, newCursor = newLow
        for anchor in anchors {
            compareAnchored(oldLow: oldCursor, oldHigh: anchor.old, newLow: newCursor, newHigh: anchor.new, depth: depth + 1)
            oldCursor = anchor.old + 1
            newCursor = anchor.new + 1
        }
        compareAnchored(oldLow: oldCursor, oldHigh: oldHigh, newLow: newCursor, newHigh: newHigh, depth: depth + 1)
    }

    /// The lines that occur exactly once in each side of the box, as
    /// (old index, new index) pairs, reduced to a longest chain increasing on
    /// both sides (patience sorting: O(n log n)).
    func uniqueCommonLines(oldLow: Int, oldHigh: Int, newLow: Int, newHigh: Int) -> [(old: Int, new: Int)] {
        // Per distinct old line: its index, or -1 once it occurs twice; then
        // the new index of its only match, -1 before any, -2 after a second.
        var seen: [Line: (old: Int, new: Int)] = [:]
        seen.reserveCapacity(oldHigh - oldLow)
        for index in oldLow..<oldHigh {
            if seen[old[index]] != nil { seen[old[index]] = (-1, -1) } else { seen[old[index]] = (index, -1) }
        }
        for index in newLow..<newHigh {
            guard let entry = seen[new[index]], entry.old >= 0 else { continue }
            seen[new[index]] = (entry.old, entry.new == -1 ? index : -2)
        }
        var pairs: [(old: Int, new: Int)] = []
        for entry in seen.values where entry.old >= 0 && entry.new >= 0 { pairs.append(entry) }
        pairs.sort { $0.old < $1.old }
        guard !pairs.isEmpty else { return [] }
        // Longest chain increasing in `new`: tails[k] is the pair ending the
        // best chain of length k + 1 found so far; links go back one step.
        var tails: [Int] = []
        var links = [Int](repeating: -1, count: pairs.count)
        for (position, pair) in pairs.enumerated() {
            var low = 0, high = tails.count
            while low < high {
                let middle = (low + high) / 2
                if pairs[tails[middle]].new < pair.new { low = middle + 1 } else { high = middle }
            }
            if low > 0 { links[position] = tails[low - 1] }
            if low == tails.count { tails.append(position) } else { tails[low] = position }
        }
        var chain: [(old: Int, new: Int)] = []
        var position = tails.last ?? -1
        while position >= 0 {
            chain.append(pairs[position])
            position = links[position]
        }
        return chain.reversed()
    }

    /// Marks the changed lines of `old[oldLow..<oldHigh]` against `new[newLow..<newHigh]`.
    mutating func compare(oldLow: Int, oldHigh: Int, newLow: Int, newHigh: Int) {
        var oldLow = oldLow, oldHigh = oldHigh, newLow = newLow, newHigh = newHigh
        while oldLow < oldHigh && newLow < newHigh && old[oldLow] == new[newLow] {
            oldLow += 1
            newLow += 1
        }
        while oldLow < oldHigh && newLow < newHigh && old[oldHigh - 1] == new[newHigh - 1] {
            oldHigh -= 1
            newHigh -= 1
        }
        if oldLow == oldHigh {
            for index in newLow..<newHigh { added[index] = true }
        } else if newLow == newHigh {
            for index in oldLow..<oldHigh { removed[index] = true }
        } else {
            let (oldSplit, newSplit) = split(oldLow: oldLow, oldHigh: oldHigh, newLow: newLow, newHigh: newHigh)
            compare(oldLow: oldLow, oldHigh: oldSplit, newLow: newLow, newHigh: newSplit)
            compare(oldLow: oldSplit, oldHigh: oldHigh, newLow: newSplit, newHigh: newHigh)
        }
    }

    /// A point on a shortest edit path through the box, found where the
    /// forward and backward searches first overlap (the middle snake). Both
    /// sides of it need strictly fewer edits than the whole box, which is at
    /// least 2 here: both sides are non-empty and differ at both ends.
    mutating func split(oldLow: Int, oldHigh: Int, newLow: Int, newHigh: Int) -> (old: Int, new: Int) {
        let minDiagonal = oldLow - newHigh
        let maxDiagonal = oldHigh - newLow
        let forwardMid = oldLow - newLow
        let backwardMid = oldHigh - newHigh
        // With an odd difference in lengths the paths can only meet after a
        // forward step; with an even one, after a backward step.
        let oddDelta = (forwardMid - backwardMid) & 1 != 0
        let offset = diagonalOffset
        // Unreachable diagonals just outside the searched range hold values
        // that always lose the comparison.
        let forwardUnreached = -1
        let backwardUnreached = Int.max

        var forwardMin = forwardMid, forwardMax = forwardMid
        var backwardMin = backwardMid, backwardMax = backwardMid
        forward[forwardMid + offset] = oldLow
        backward[backwardMid + offset] = oldHigh

        while true {
            // One more edit forward: widen the diagonal range, or shift its
            // parity where it already touches the edge of the box.
            if forwardMin > minDiagonal {
                forwardMin -= 1
                forward[forwardMin - 1 + offset] = forwardUnreached
            } else {
                forwardMin += 1
            }
            if forwardMax < maxDiagonal {
                forwardMax += 1
                forward[forwardMax + 1 + offset] = forwardUnreached
            } else {
                forwardMax -= 1
            }
            var diagonal = forwardMax
            while diagonal >= forwardMin {
                // Step right (drop an old line) from the diagonal below, or
                // down (take a new line) from the one above: whichever reaches further.
                var oldIndex = forward[diagonal - 1 + offset] >= forward[diagonal + 1 + offset]
                    ? forward[diagonal - 1 + offset] + 1
                    : forward[diagonal + 1 + offset]
                var newIndex = oldIndex - diagonal
                while oldIndex < oldHigh && newIndex < newHigh && old[oldIndex] == new[newIndex] {
                    oldIndex += 1
                    newIndex += 1
                }
                forward[diagonal + offset] = oldIndex
                if oddDelta && backwardMin <= diagonal && diagonal <= backwardMax
                    && backward[diagonal + offset] <= oldIndex {
                    return (oldIndex, newIndex)
                }
                diagonal -= 2
            }

            if backwardMin > minDiagonal {
                backwardMin -= 1
                backward[backwardMin - 1 + offset] = backwardUnreached
            } else {
                backwardMin += 1
            }
            if backwardMax < maxDiagonal {
                backwardMax += 1
                backward[backwardMax + 1 + offset] = backwardUnreached
            } else {
                backwardMax -= 1
            }
            diagonal = backwardMax
            while diagonal >= backwardMin {
                var oldIndex = backward[diagonal - 1 + offset] < backward[diagonal + 1 + offset]
                    ? backward[diagonal - 1 + offset]
                    : backward[diagonal + 1 + offset] - 1
                var newIndex = oldIndex - diagonal
                while oldIndex > oldLow && newIndex > newLow && old[oldIndex - 1] == new[newIndex - 1] {
                    oldIndex -= 1
                    newIndex -= 1
                }
                backward[diagonal + offset] = oldIndex
                if !oddDelta && forwardMin <= diagonal && diagonal <= forwardMax
                    && oldIndex <= forward[diagonal + offset] {
                    return (oldIndex, newIndex)
                }
                diagonal -= 2
            }
        }
    }
}
