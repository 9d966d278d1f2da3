import Foundation
import MapsAnalysis
import MapsModel
import MapsTestSupport
import MapsTrace
import Testing

@Suite struct HostileArenaTests {
    private func loadError(_ arena: ArenaRecord) throws -> AnalysisError? {
        var trace = SmallTrace()
        trace.arena = arena
        let bytes = try trace.bytes()
        return #expect(throws: AnalysisError.self) { try TraceContext.load(.bytes(bytes)) }
    }

    static let unusable: [(UInt64, UInt64, String)] = [
        (0x7f00_0000_4000, 0x7f00_0000_0000, "its start is not below its end"),
        (0x7f00_0000_0000, 0x7f00_0000_0000, "its start is not below its end"),
        (0x7f00_0000_0010, 0x7f00_0000_4000, "it is not aligned to the page size 4096"),
        (0x7f00_0000_0000, 0x7f00_0000_4001, "it is not aligned to the page size 4096"),
        (0x1000, 0x1000 + (1 << 24 + 1) * 4096,
         "its 16777217 pages exceed the limit of 16777216 (the ground truth allocates per page)"),
    ]

    @Test(arguments: unusable)
    func unusableArenaIsMalformed(start: UInt64, end: UInt64, reason: String) throws {
        let arena = ArenaRecord(start: start, end: end)
        let error = try loadError(arena)
        #expect(error == .unusableArena(arena, reason: reason))
        #expect(error?.description
            == "the trace's arena \(addressString(start))-\(addressString(end)) is malformed: \(reason)")
    }

    @Test func largestArenaAnyTraceMayHaveLoads() throws {
        var trace = SmallTrace()
        trace.arena = ArenaRecord(start: 0x1000, end: 0x1000 + TraceContext.arenaPagesFreeOfCharge * 4096)
        let context = try TraceContext.load(.bytes(try trace.bytes()))
        #expect(context.arena == trace.arena)
    }

    /// Issue 9, finding 6: a header and an arena record of a few bytes must
    /// not claim gigabytes. Each of these loaded before, and replaying it
    /// took 0.4 to 1.3 GB.
    @Test func anArenaLargerThanTheTraceCanDescribeIsRefused() throws {
        var trace = SmallTrace()
        trace.arena = ArenaRecord(start: 0x1000, end: 0x1000 + (1 << 24) * 4096)
        let bytes = try trace.bytes()
        let error = #expect(throws: AnalysisError.self) { try TraceContext.load(.bytes(bytes)) }
        guard case .unusableArena(_, let reason) = error else { return }
        #expect(reason.contains("16777216 pages are more than a trace of"))
        // The same arena is fine for a trace that holds a byte per page.
        var large = SmallTrace()
        large.arena = ArenaRecord(start: 0x1000, end: 0x1000 + 100_000 * 4096)
        large.initialMaps += String(repeating: "7f0000005000-7f0000006000 ---p 00000000 00:00 0 \n", count: 2_100)
        #expect(throws: Never.self) { try TraceContext.load(.bytes(try large.bytes())) }
    }

    @Test(arguments: [UInt64(1), 3, 512, 4097, 1 << 31])
    func anImplausiblePageSizeIsRefused(pageSize: UInt64) throws {
        // The arena of a real 4000-page recording, with a forged page size:
        // at 1 byte per page it claims 2^24 pages.
        var trace = SmallTrace()
        trace.pageSize = pageSize
        trace.arena = ArenaRecord(start: 0x7f00_0000_0000, end: 0x7f00_0000_0000 + 4000 * 4096)
        let bytes = try trace.bytes()
        let error = #expect(throws: AnalysisError.self) { try TraceContext.load(.bytes(bytes)) }
        #expect(error == .unusableArena(
            trace.arena, reason: "the header's page size \(pageSize) is not a power of two from 1 KiB to 1 GiB"))
    }
}

@Suite struct SnapshotDiffRenderingTests {
    @Test func readEndingPastTwoToTheSixtyFourSaturates() throws {
        var trace = SmallTrace()
        let line = Array("7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n".utf8)
        trace.reads = [(offset: .max - 10, bytes: line)]
        let analysis = try TraceAnalysis(.bytes(try trace.bytes()))
        var verdict: SnapshotVerdict?
        _ = try analysis.run { verdict = $0 }
        let found = try #require(verdict)
        // A line the model does not have, so that the read's marker is shown.
        let reconstructed = [MapsLine(start: 0x1000, end: 0x2000, permissions: Permissions(prot: 1))]
        let text = SnapshotDiff.render(
            verdict: found, reconstructed: reconstructed, stateLabel: "state 0", origin: SmallTrace.origin)
        #expect(text.contains("## read 0: bytes \(UInt64.max - 10)-\(UInt64.max), requested 65536"))
    }

    @Test func smapsLinesEndAtTheirNewline() throws {
        var trace = SmallTrace()
        trace.reader = "smaps"
        trace.mutations = [MutationRecord(
            sequence: 0, kind: .mprotect, address: 0x7f00_0000_1000, length: 4096, prot: 1,
            tBegin: SmallTrace.origin + 1_000, tEnd: SmallTrace.origin + 1_010, threadID: 100)]
        let headers = [
            "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ",
            "7f0000001000-7f0000002000 r--p 00000000 00:00 0 ",
            "7f0000002000-7f0000004000 rw-p 00000000 00:00 0 ",
        ]
        let smaps = headers.map { $0 + "\nSize:                  4 kB\nRss:                   0 kB\n" }.joined()
        trace.reads = [(offset: 0, bytes: Array(smaps.utf8))]
        let analysis = try TraceAnalysis(.bytes(try trace.bytes()))
        var verdict: SnapshotVerdict?
        _ = try analysis.run { verdict = $0 }
        let found = try #require(verdict)
        #expect(found.text.lines.count == 3)
        let text = SnapshotDiff.render(
            verdict: found, reconstructed: analysis.maps(at: 0), stateLabel: "state 0",
            origin: SmallTrace.origin)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(!text.contains("kB"))
        // Every header is added (the model has one rw line), and nothing after its newline.
        for header in headers {
            #expect(lines.contains { $0.hasPrefix("+" + header + "    [") })
        }
    }
}

@Suite struct CutTraceSnapshotTests {
    @Test func extractingASnapshotLostToTheCutIsTheTruncation() throws {
        var trace = SmallTrace()
        trace.reads = [(offset: 0, bytes: Array(trace.initialMaps.utf8))]
        let whole = try trace.bytes(blockSize: 64)
        let cut = Array(whole.dropLast())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let error = #expect(throws: ExtractError.self) {
            try extractSnapshots(from: TraceReader(bytes: cut), to: directory, only: 5)
        }
        #expect(error == .noSuchSnapshot(5, available: [0], truncated: true))
        // The whole trace: the snapshot is simply not there.
        let absent = #expect(throws: ExtractError.self) {
            try extractSnapshots(from: TraceReader(bytes: whole), to: directory, only: 5)
        }
        #expect(absent == .noSuchSnapshot(5, available: [0], truncated: false))
    }
}
