import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct ReaderLogDecoding {
    @Test func rejectsGarbageAndShortLogs() {
        let garbage = [UInt8](repeating: 0xAB, count: 200)
        garbage.withUnsafeBytes { bytes in
            guard case .failure(let error) = ReaderLog.decode(bytes, strategy: "pmap") else {
                Issue.record("garbage decoded")
                return
            }
            guard case .readerFailed = error else { Issue.record("expected readerFailed, got \(error)"); return }
        }
        [UInt8](repeating: 0, count: 3).withUnsafeBytes { bytes in
            guard case .failure = ReaderLog.decode(bytes, strategy: "pmap") else {
                Issue.record("3 bytes decoded")
                return
            }
        }
    }

    @Test func rejectsCountsPastTheEnd() {
        var header = ReaderLogHeader(
            magic: ReaderLogHeader.expectedMagic, snapshotStride: UInt64(MemoryLayout<ReaderSnapshotEntry>.stride),
            chunkStride: UInt64(MemoryLayout<ReaderChunkEntry>.stride), snapshotCount: 1_000_000, chunkCount: 0,
            byteCount: 0)
        let bytes = withUnsafeBytes(of: &header) { Array($0) }
        bytes.withUnsafeBytes { raw in
            guard case .failure(let error) = ReaderLog.decode(raw, strategy: "pmap") else {
                Issue.record("forged count decoded")
                return
            }
            #expect(error.description.contains("exceed"))
        }
    }

    /// A log of `header` followed by `entries` and `tail` raw bytes.
    private func log(_ header: ReaderLogHeader, _ snapshotEntries: [ReaderSnapshotEntry] = [], tail: Int = 0) -> [UInt8] {
        var header = header
        var bytes = withUnsafeBytes(of: &header) { Array($0) }
        for var entry in snapshotEntries { bytes += withUnsafeBytes(of: &entry) { Array($0) } }
        return bytes + [UInt8](repeating: 0, count: tail)
    }

    private func header(snapshots: UInt64 = 0, chunks: UInt64 = 0, bytes: UInt64 = 0) -> ReaderLogHeader {
        ReaderLogHeader(
            magic: ReaderLogHeader.expectedMagic, snapshotStride: UInt64(MemoryLayout<ReaderSnapshotEntry>.stride),
            chunkStride: UInt64(MemoryLayout<ReaderChunkEntry>.stride), snapshotCount: snapshots, chunkCount: chunks,
            byteCount: bytes)
    }

    /// Counts whose sum wraps around must be rejected, not trap.
    @Test(arguments: [UInt64.max, UInt64.max - 100, UInt64.max / 2 + 1])
    func rejectsAByteCountThatWouldWrap(byteCount: UInt64) {
        log(header(bytes: byteCount), tail: 64).withUnsafeBytes { raw in
            guard case .failure(let error) = ReaderLog.decode(raw, strategy: "pmap") else {
                Issue.record("byte count \(byteCount) decoded")
                return
            }
            #expect(error.description.contains("exceed"))
        }
    }

    @Test func rejectsASnapshotWhoseChunkRangeWraps() {
        let entry = ReaderSnapshotEntry(
            index: 0, flags: 0, tBegin: 0, tEnd: 0, errno: 0, reserved: 0, firstChunk: 1, chunkCount: UInt64.max)
        log(header(snapshots: 1, chunks: 1), [entry], tail: MemoryLayout<ReaderChunkEntry>.stride).withUnsafeBytes { raw in
            guard case .failure(let error) = ReaderLog.decode(raw, strategy: "pmap") else {
                Issue.record("a wrapping chunk range decoded")
                return
            }
            #expect(error.description.contains("past the chunk table"))
        }
    }

    @Test func acceptsAnEmptyLog() {
        log(header()).withUnsafeBytes { raw in
            guard case .success(let decoded) = ReaderLog.decode(raw, strategy: "pmap") else {
                Issue.record("an empty log was rejected")
                return
            }
            #expect(decoded.snapshots.isEmpty)
        }
    }
}
