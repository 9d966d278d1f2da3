import Testing
@testable import MapsTrace

/// Read chunks whose `returned` disagrees with the bytes they carry: the
/// reader rejects them as malformed (exit 15) before any sum is taken.
@Suite struct HostileChunkTests {
    private func chunkTrace(returned: Int64, bytes: [UInt8]) throws -> [UInt8] {
        let t = TraceFixtures.originNs + 100
        var chunk = TraceFixtures.chunk(snapshot: 0, sequence: 0, bytes: bytes, at: t)
        chunk.returned = returned
        return try TraceFixtures.encode([
            .header(TraceFixtures.header), .arena(TraceFixtures.arena),
            .snapshotBegin(SnapshotBegin(index: 0, tBegin: t, strategy: "chromium")),
            .readChunk(chunk),
        ]).bytes
    }

    @Test(arguments: [Int64.max, 1 << 40, 4, 0])
    func returnedOtherThanTheDataLengthIsMalformed(returned: Int64) throws {
        let trace = try chunkTrace(returned: returned, bytes: Array("7f00-8000 rw-p\n".utf8))
        let error = #expect(throws: TraceError.self) { try TraceSummary.summarize(TraceReader(bytes: trace)) }
        guard case .malformedRecord(_, let kind, let reason) = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(kind == RecordKind.readChunk.rawValue)
        #expect(reason == "the read chunk claims \(returned) bytes returned but carries 15")
    }

    @Test func failedAndExactReadsAreAccepted() throws {
        let text = Array("7f00-8000 rw-p\n".utf8)
        let exact = try TraceSummary.summarize(TraceReader(bytes: try chunkTrace(returned: 15, bytes: text)))
        #expect(exact.readChunks == 1)
        #expect(exact.bytesRead == 15)
        let failed = try TraceSummary.summarize(TraceReader(bytes: try chunkTrace(returned: -1, bytes: [])))
        #expect(failed.readChunks == 1)
        #expect(failed.bytesRead == 0)
    }
}
