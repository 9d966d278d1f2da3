import Foundation
import MapsTrace

/// A minimal trace with a chosen arena, reader and snapshot reads, written
/// with TraceWriter: enough for TraceContext.load and one snapshot.
/// (No pages parameter, no reader pauses.)
public struct SmallTrace {
    public var arena = ArenaRecord(start: 0x7f00_0000_0000, end: 0x7f00_0000_4000)
    public var reader = "chromium"
    public var pageSize: UInt64 = 4096
    public var initialMaps = "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
    public var mutations: [MutationRecord] = []
    /// Each read: its offset and bytes, 100 ns apart from 10 µs on.
    public var reads: [(offset: UInt64, bytes: [UInt8])] = []

    public init() {}

    public static let origin: UInt64 = 1_000_000_000

    public func bytes(blockSize: Int = 1 << 20) throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let origin = Self.origin
        let writer = try TraceWriter(path: path, blockSize: blockSize)
        try writer.append(.header(TraceHeader(
            toolVersion: "test", kernelRelease: "6.18.0-test", kernelVersion: "#1", machine: "x86_64",
            pageSize: pageSize, clockID: 1, clockResolutionNs: 1, startWallClockNs: 0, originNs: origin,
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
