import Foundation
import Testing
@testable import MapsTrace

@Suite struct TraceSummaryTests {
    @Test func summaryCountsWhatWasWritten() throws {
        let records = TraceFixtures.smallTrace(mutations: 40, chunkBytes: 300)
        let path = TraceFixtures.temporaryPath("summary")
        defer { unlink(path) }
        let writer = try TraceWriter(path: path, blockSize: 1000)
        for record in records { try writer.append(record) }
        try writer.finish()

        let summary = try TraceSummary.read(path: path)
        var expectedChunkBytes: UInt64 = 0
        var kinds: [String: Int] = [:]
        for record in records {
            switch record {
            case .mutation: kinds["mutation", default: 0] += 1
            case .snapshotBegin: kinds["begin", default: 0] += 1
            case .snapshotEnd: kinds["end", default: 0] += 1
            case .readChunk(let chunk):
                kinds["chunk", default: 0] += 1
                expectedChunkBytes += UInt64(chunk.bytes.count)
            case .quiescentMaps: kinds["maps", default: 0] += 1
            default: break
            }
        }
        #expect(summary.header == TraceFixtures.header)
        #expect(summary.arena == TraceFixtures.arena)
        #expect(summary.mutations == kinds["mutation"])
        #expect(summary.snapshots == kinds["begin"])
        #expect(summary.snapshotEnds == kinds["end"])
        #expect(summary.readChunks == kinds["chunk"])
        #expect(summary.quiescentMaps == kinds["maps"])
        #expect(summary.bytesRead == expectedChunkBytes)
        #expect(summary.records == records.count)
        #expect(summary.blocks == writer.blocksWritten)
        #expect(summary.compressedBytes == writer.compressedBytesWritten)
        #expect(summary.isComplete)
        #expect(!summary.interrupted)
        // The fixture's earliest stamp is the initial quiescent read, its latest the final one.
        #expect(summary.firstTimestampNs == TraceFixtures.originNs + 10)
        #expect(summary.durationNs == 400_100_000 - 10)
        #expect(summary.mutatorLoopNs == 330_000_000 - 900)
    }

    @Test func truncatedTraceIsSummarisedAsFarAsItGoes() throws {
        let records = TraceFixtures.smallTrace(mutations: 40)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 600)
        let cutBlock = writer.blockEnds[writer.blockEnds.count / 2]
        let cut = Array(bytes[..<(Int(cutBlock.compressedEnd) + 7)])
        let summary = try TraceSummary.summarize(TraceReader(bytes: cut))
        #expect(summary.records == cutBlock.recordsThrough)
        #expect(summary.truncation?.byteOffset == cutBlock.compressedEnd)
        #expect(summary.trailer == nil)
        #expect(summary.mutatorLoopNs == nil)
    }
}
