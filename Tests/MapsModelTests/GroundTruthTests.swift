import MapsModel
import MapsTrace
import Testing

/// Planted mutation sequences over an 8-page arena, with every state's
/// lines written out by hand.
@Suite("Ground-truth replay")
struct GroundTruthTests {
    static let pageSize: UInt64 = 4096
    static let base: UInt64 = 0x7f00_0000_0000

    static func at(_ page: Int) -> UInt64 { base + UInt64(page) * pageSize }

    static func line(_ first: Int, _ last: Int, _ perms: String) -> MapsLine {
        let p = Array(perms.utf8)
        return MapsLine(
            start: at(first), end: at(last),
            permissions: Permissions(
                read: p[0] == UInt8(ascii: "r"), write: p[1] == UInt8(ascii: "w"),
                execute: p[2] == UInt8(ascii: "x"), shared: false))
    }

    static func mutation(
        _ sequence: Int, _ kind: MutationKind, _ page: Int, pages: Int, prot: Int32 = 0, flags: Int32 = 0,
        newPages: Int = 0, result: Int? = nil
    ) -> MutationRecord {
        let t = UInt64(100 * (sequence + 1))
        return MutationRecord(
            sequence: UInt64(sequence), kind: kind, address: at(page), length: UInt64(pages) * pageSize,
            prot: prot, flags: flags, newAddress: result.map { at($0) } ?? 0,
            newLength: UInt64(newPages) * pageSize,
            result: Int64(bitPattern: result.map { at($0) } ?? (kind == .mmap ? at(page) : 0)),
            tBegin: t, tEnd: t + 10, threadID: 1)
    }

    /// One PROT_NONE reservation of 8 pages, then mmap, munmap, mremap
    /// shrink, grow, move, mprotect of the moved page, and a
    /// MREMAP_DONTUNMAP move, replayed as faulted-in memory
    /// (`MovedPageOffset.kept`: moved pages keep their page offsets).
    static let mutations: [MutationRecord] = [
        mutation(0, .mmap, 2, pages: 2, prot: 1, flags: 0x32),  // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
        mutation(1, .munmap, 5, pages: 1),
        mutation(2, .mremap, 2, pages: 2, newPages: 1, result: 2),  // shrink in place
        mutation(3, .mremap, 2, pages: 1, newPages: 2, result: 2),  // grow back in place
        mutation(4, .mremap, 2, pages: 1, flags: 3, newPages: 1, result: 6),  // MAYMOVE|FIXED to page 6
        mutation(5, .mprotect, 6, pages: 1, prot: 0),
        mutation(6, .mremap, 3, pages: 1, flags: 7, newPages: 1, result: 0),  // ... |DONTUNMAP to page 0
    ]

    static let expected: [[MapsLine]] = [
        [line(0, 8, "---")],
        [line(0, 2, "---"), line(2, 4, "r--"), line(4, 8, "---")],
        [line(0, 2, "---"), line(2, 4, "r--"), line(4, 5, "---"), line(6, 8, "---")],
        [line(0, 2, "---"), line(2, 3, "r--"), line(4, 5, "---"), line(6, 8, "---")],
        [line(0, 2, "---"), line(2, 4, "r--"), line(4, 5, "---"), line(6, 8, "---")],
        // Page 2 moved to page 6: it keeps its old page offset, so it stays
        // a line of its own; page 3 (grown in place) stays where it was.
        [line(0, 2, "---"), line(3, 4, "r--"), line(4, 5, "---"), line(6, 7, "r--"), line(7, 8, "---")],
        // Same permissions as page 7 now, but still not the same mapping.
        [line(0, 2, "---"), line(3, 4, "r--"), line(4, 5, "---"), line(6, 7, "---"), line(7, 8, "---")],
        // Page 3 copied to page 0; the source stays mapped.
        [line(0, 1, "r--"), line(1, 2, "---"), line(3, 4, "r--"), line(4, 5, "---"), line(6, 7, "---"),
         line(7, 8, "---")],
    ]

    func truth() throws -> GroundTruth {
        let initial = MapsText(lines: Self.expected[0], byteOffsets: [0])
        return try GroundTruth(
            initialMaps: initial, arena: Self.at(0)..<Self.at(8), pageSize: Self.pageSize,
            mutations: Self.mutations, baseState: 0, movedPageOffset: .kept)
    }

    @Test func everyStateRendersAsPlanted() throws {
        let truth = try truth()
        #expect(truth.finalState == Self.mutations.count)
        for (state, lines) in Self.expected.enumerated() {
            #expect(truth.arenaLines(at: state) == lines, "state \(state)")
        }
        #expect(truth.unmodeledMutations.isEmpty)
    }

    @Test func exactLinesAreExplainedByExactlyTheirStates() throws {
        let truth = try truth()
        let window = 0...Self.mutations.count
        // Collect, for every line that appears in some state, the states
        // that contain it; the model must give exactly those.
        var occurrences: [MapsLine: [Int]] = [:]
        for (state, lines) in Self.expected.enumerated() {
            for line in lines { occurrences[line, default: []].append(state) }
        }
        for (line, states) in occurrences {
            let explained = truth.explainingStates(for: line, within: window, match: .exact)
            let listed = explained.intervals.flatMap { Array($0) }
            #expect(listed == states, "\(line)")
        }
        // A line that never existed, and one cut short, are explained by nothing.
        #expect(truth.explainingStates(for: Self.line(0, 3, "---"), within: window, match: .exact).isEmpty)
        #expect(truth.explainingStates(for: Self.line(4, 6, "---"), within: window, match: .exact).isEmpty)
        // Page level only asks for the permissions of every page.
        let pageLevel = truth.explainingStates(for: Self.line(6, 8, "---"), within: window, match: .pageLevel)
        #expect(pageLevel == StateSet(sortedIntervals: [0...4, 6...7]))
    }

    @Test func windowsClipTheAnswer() throws {
        let truth = try truth()
        let line = Self.line(0, 2, "---")
        #expect(truth.explainingStates(for: line, within: 1...3, match: .exact) == StateSet(1...3))
        #expect(truth.explainingStates(for: line, within: 7...7, match: .exact).isEmpty)
    }

    @Test func mappedThroughoutFollowsUnmaps() throws {
        let truth = try truth()
        #expect(truth.alwaysMapped(Self.at(0)..<Self.at(2), over: 0...6))
        // Mutation 1 (visible from state 2 on) unmapped page 5.
        #expect(!truth.alwaysMapped(Self.at(5)..<Self.at(6), over: 0...2))
        #expect(truth.alwaysMapped(Self.at(5)..<Self.at(6), over: 0...1))
        #expect(!truth.alwaysMapped(Self.at(2)..<Self.at(3), over: 4...5))
    }

    @Test func mutationsOutsideTheArenaAreUnmodeled() throws {
        let initial = MapsText(lines: Self.expected[0], byteOffsets: [0])
        let straddling = Self.mutation(0, .mprotect, 6, pages: 4, prot: 1)
        let truth = try GroundTruth(
            initialMaps: initial, arena: Self.at(0)..<Self.at(8), pageSize: Self.pageSize,
            mutations: [straddling], baseState: 0)
        #expect(truth.unmodeledMutations == [0])
    }

    /// Untouched anonymous memory, as the recorder's arena always is: a moved
    /// mapping gets the page offset of its new address and merges there.
    /// The sequence and every state below are what `/proc/self/maps` showed
    /// on Linux 6.18 for the same calls on a never-touched arena.
    static let untouchedMutations: [MutationRecord] = [
        mutation(0, .mmap, 0, pages: 3, prot: 1, flags: 0x4032),  // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_NORESERVE
        mutation(1, .mremap, 5, pages: 1, flags: 7, newPages: 1, result: 1),  // MAYMOVE|FIXED|DONTUNMAP 5 -> 1
        mutation(2, .mprotect, 1, pages: 1, prot: 1),  // restores the host line
        mutation(3, .mremap, 0, pages: 3, newPages: 1, result: 0),  // shrink in place
        mutation(4, .mremap, 0, pages: 1, newPages: 3, result: 0),  // grow back in place
        mutation(5, .mremap, 1, pages: 1, flags: 3, newPages: 1, result: 5),  // MAYMOVE|FIXED 1 -> 5
        mutation(6, .mprotect, 5, pages: 1, prot: 0),  // joins the PROT_NONE pages around it
    ]

    static let untouchedExpected: [[MapsLine]] = [
        [line(0, 8, "---")],
        [line(0, 3, "r--"), line(3, 8, "---")],
        [line(0, 1, "r--"), line(1, 2, "---"), line(2, 3, "r--"), line(3, 8, "---")],
        [line(0, 3, "r--"), line(3, 8, "---")],
        [line(0, 1, "r--"), line(3, 8, "---")],
        [line(0, 3, "r--"), line(3, 8, "---")],
        [line(0, 1, "r--"), line(2, 3, "r--"), line(3, 5, "---"), line(5, 6, "r--"), line(6, 8, "---")],
        [line(0, 1, "r--"), line(2, 3, "r--"), line(3, 8, "---")],
    ]

    @Test func movedUntouchedPagesMergeAtTheirNewAddress() throws {
        let initial = MapsText(lines: Self.untouchedExpected[0], byteOffsets: [0])
        let truth = try GroundTruth(
            initialMaps: initial, arena: Self.at(0)..<Self.at(8), pageSize: Self.pageSize,
            mutations: Self.untouchedMutations, baseState: 0)
        for (state, lines) in Self.untouchedExpected.enumerated() {
            #expect(truth.arenaLines(at: state) == lines, "state \(state)")
        }
        // The restored host line is explained by the states where it exists.
        let host = truth.explainingStates(for: Self.line(0, 3, "r--"), within: 0...7, match: .exact)
        #expect(host == StateSet(sortedIntervals: [1...1, 3...3, 5...5]))
        // The same calls on faulted-in memory leave the moved pages apart.
        let faulted = try GroundTruth(
            initialMaps: initial, arena: Self.at(0)..<Self.at(8), pageSize: Self.pageSize,
            mutations: Self.untouchedMutations, baseState: 0, movedPageOffset: .kept)
        #expect(faulted.arenaLines(at: 3) == [
            Self.line(0, 1, "r--"), Self.line(1, 2, "r--"), Self.line(2, 3, "r--"), Self.line(3, 8, "---"),
        ])
    }
}
