import Foundation
import MapsAnalysis
import MapsModel
import MapsTrace
import Testing

/// A minimal trace with a chosen arena, reader and snapshot reads, written
/// with TraceWriter: enough for TraceContext.load and one snapshot.
private struct SmallTrace {
    var arena = ArenaRecord(start: 0x7f00_0000_0000, end: 0x7f00_0000_4000)
    var reader = "chromium"
    var initialMaps = "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
    var mutations: [MutationRecord] = []
    /// Each read: its offset and bytes, 100 ns apart from 10 µs on.
    var reads: [(offset: UInt64, bytes: [UInt8])] = []

    static let origin: UInt64 = 1_000_000_000

    func bytes() throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let origin = Self.origin
        let writer = try TraceWriter(path: path)
        try writer.append(.header(TraceHeader(
            toolVersion: "test", kernelRelease: "6.18.0-test", kernelVersion: "#1", machine: "x86_64",
            pageSize: 4096, clockID: 1, clockResolutionNs: 1, startWallClockNs: 0, originNs: origin,
            mutatorPID: 100, readerPID: 101, workload: "test", workloadParameters: [],
            reader: reader, readerParameters: [], seed: 1)))
        try writer.append(.arena(arena))
        try writer.append(.quiescentMaps(QuiescentMaps(
            role: .initial, tBegin: origin + 1, tEnd: origin + 2, text: Array(initialMaps.utf8))))
        for mutation in mutations { try writer.append(.mutation(mutation)) }
        if !reads.isEmpty {
            try writer.append(.snapshotBegin(SnapshotBegin(index: 0, tBegin: origin + 10_000, strategy: reader)))
            for (sequence, read) in reads.enumerated() {
                let t = origin + 10_000 + UInt64(sequence) * 100
                try writer.append(.readChunk(ReadChunk(
                    snapshot: 0, sequence: UInt32(sequence), offset: read.offset, requested: 65536,
                    returned: Int64(read.bytes.count), tBegin: t, tEnd: t + 10, bytes: read.bytes)))
            }
            try writer.append(.snapshotEnd(SnapshotEnd(index: 0, tEnd: origin + 20_000, flags: [.reachedEOF])))
        }
        try writer.finish()
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

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
        #expect(error?.exitCode == 15)
        #expect(error?.description
            == "the trace's arena \(addressString(start))-\(addressString(end)) is malformed: \(reason)")
    }

    @Test func largestAllowedArenaLoads() throws {
        var trace = SmallTrace()
        trace.arena = ArenaRecord(start: 0x1000, end: 0x1000 + (1 << 24) * 4096)
        let context = try TraceContext.load(.bytes(try trace.bytes()))
        #expect(context.arena == trace.arena)
    }
}
