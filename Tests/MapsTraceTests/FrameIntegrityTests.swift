import Foundation
import Testing
@testable import MapsTrace

/// A frame must carry its content checksum, and a trace must have a header
/// (issue 9, findings 5 and 8).
@Suite struct FrameIntegrityTests {
    private func readAll(_ bytes: [UInt8]) -> (records: Int, error: TraceError?) {
        let reader = TraceReader(bytes: bytes)
        var records = 0
        do {
            while try reader.next() != nil { records += 1 }
            return (records, nil)
        } catch {
            return (records, error)
        }
    }

    /// `frame` without its content checksum: Frame_Header_Descriptor bit 2
    /// cleared and the 4 checksum bytes at the end dropped. Still a valid zstd frame.
    private func withoutChecksum(_ frame: [UInt8]) -> [UInt8] {
        var stripped = Array(frame.dropLast(4))
        stripped[4] &= ~0x04
        return stripped
    }

    private func twoBlocks() -> (first: [UInt8], second: [UInt8]) {
        var head = RawTraceBuilder()
        head.appendRecord(kind: RecordKind.arena.rawValue, payload: leb(0x7f00_0000_0000) + leb(0x7f00_0001_0000))
        var rest = ByteBuffer(capacity: 256)
        RecordEncoder(originNs: TraceFixtures.originNs).encodeMutation(TraceFixtures.mutation(0), into: &rest)
        let mutation = [RecordKind.mutation.rawValue] + leb(UInt64(rest.count)) + Array(rest.bytes)
        return (BlockCompressor.frame(head.raw), BlockCompressor.frame(mutation))
    }

    @Test func framesWithTheirChecksumsRead() {
        let blocks = twoBlocks()
        let read = readAll(blocks.first + blocks.second)
        #expect(read.error == nil)
        #expect(read.records == 3)
    }

    @Test func aFirstFrameWithoutChecksumIsACorruptBlock() {
        let blocks = twoBlocks()
        let error = readAll(withoutChecksum(blocks.first) + blocks.second).error
        guard case .corruptBlock(let block, let offset, _) = error else {
            Issue.record("expected a corrupt block 0, got \(String(describing: error))")
            return
        }
        #expect(block == 0 && offset == 0)
    }

    @Test func aLaterFrameWithoutChecksumIsACorruptBlock() {
        let blocks = twoBlocks()
        let read = readAll(blocks.first + withoutChecksum(blocks.second))
        guard case .corruptBlock(let block, let offset, _) = read.error else {
            Issue.record("expected a corrupt block 1, got \(String(describing: read.error))")
            return
        }
        #expect(block == 1 && offset == UInt64(blocks.first.count))
        // The first block's records were handed out before the bad frame was met.
        #expect(read.records == 2)
    }

    @Test func onlyThePreambleIsNotATrace() {
        let preamble = traceMagic + [1, 0, 0, 0]
        for file in [BlockCompressor.frame(preamble), BlockCompressor.frame(preamble) + BlockCompressor.frame([])] {
            let error = readAll(file).error
            guard case .notATrace = error else {
                Issue.record("a trace without header read as \(String(describing: error))")
                continue
            }
        }
    }
}
