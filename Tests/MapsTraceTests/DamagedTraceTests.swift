import Foundation
import Testing
@testable import MapsTrace

/// Traces that were cut, corrupted, forged or never were traces.
@Suite struct DamagedTraceTests {
    /// Reads what it can; the error, if any, comes back instead of throwing.
    private func readWhatCan(_ bytes: [UInt8], limits: TraceLimits = .standard)
        -> (records: [TraceRecord], error: TraceError?, reader: TraceReader)
    {
        let reader = TraceReader(bytes: bytes, limits: limits)
        var records: [TraceRecord] = []
        do {
            while let record = try reader.next() { records.append(record) }
            return (records, nil, reader)
        } catch {
            return (records, error, reader)
        }
    }

    @Test func cutAtEveryByteYieldsExactlyTheCompleteBlocks() throws {
        let records = TraceFixtures.smallTrace(mutations: 30, chunkBytes: 120)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 400)
        let blockEnds = writer.blockEnds
        try #require(blockEnds.count >= 6)
        #expect(blockEnds.last?.compressedEnd == UInt64(bytes.count))

        for cut in 0 ..< bytes.count {
            let (recovered, error, reader) = readWhatCan(Array(bytes[..<cut]))
            let complete = blockEnds.filter { $0.compressedEnd <= UInt64(cut) }
            if cut < 4 {
                guard case .notATrace = error else {
                    Issue.record("cut at \(cut): expected notATrace, got \(String(describing: error))")
                    continue
                }
                continue
            }
            #expect(error == nil, "cut at \(cut)")
            let expectedCount = complete.last?.recordsThrough ?? 0
            #expect(recovered == Array(records.prefix(expectedCount)), "cut at \(cut)")
            if let lastEnd = complete.last?.compressedEnd, lastEnd == UInt64(cut) {
                #expect(reader.completion == .missingTrailer, "cut at \(cut)")
            } else {
                let expected = TraceTruncation(
                    blocksRecovered: complete.count, recordsRecovered: expectedCount,
                    byteOffset: complete.last?.compressedEnd ?? 0)
                #expect(reader.completion == .truncated(expected), "cut at \(cut)")
                #expect(throws: TraceError.truncated(expected)) { try reader.requireComplete() }
            }
        }
    }

    @Test func flippedChecksumByteIsAChecksumMismatchOfThatBlock() throws {
        let records = TraceFixtures.smallTrace(mutations: 60)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 500)
        var blockStart: UInt64 = 0
        for (index, block) in writer.blockEnds.enumerated() {
            var damaged = bytes
            damaged[Int(block.compressedEnd) - 1] ^= 0x01  // last byte: the content checksum
            let (recovered, error, _) = readWhatCan(damaged)
            #expect(error == .checksumMismatch(block: index, byteOffset: blockStart))
            let before = index == 0 ? 0 : writer.blockEnds[index - 1].recordsThrough
            #expect(recovered == Array(records.prefix(before)))
            blockStart = block.compressedEnd
        }
    }

    @Test func flippedDataByteIsDetectedInThatBlock() throws {
        let records = TraceFixtures.smallTrace(mutations: 60)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 500)
        var blockStart: UInt64 = 0
        for (index, block) in writer.blockEnds.enumerated() {
            // The middle of the frame: compressed block data, never the
            // frame header (< 18 bytes) nor the 4-byte checksum.
            let middle = Int(blockStart + (block.compressedEnd - blockStart) / 2)
            var damaged = bytes
            damaged[middle] ^= 0x40
            let (recovered, error, _) = readWhatCan(damaged)
            switch error {
            case .checksumMismatch(let failedBlock, let offset), .corruptBlock(let failedBlock, let offset, _):
                #expect(failedBlock == index)
                #expect(offset == blockStart)
            default:
                Issue.record("block \(index): expected a checksum mismatch or corrupt block, got \(String(describing: error))")
            }
            let before = index == 0 ? 0 : writer.blockEnds[index - 1].recordsThrough
            #expect(recovered == Array(records.prefix(before)))
            blockStart = block.compressedEnd
        }
    }

    @Test func recordLengthOfTwoToTheFortyIsMalformedBeforeAllocating() {
        var builder = RawTraceBuilder()
        let offset = builder.offset
        builder.appendRecord(kind: RecordKind.readChunk.rawValue, claimedLength: 1 << 40, payload: [1, 2, 3])
        let (recovered, error, _) = readWhatCan(builder.trace)
        #expect(recovered == [.header(TraceFixtures.header)])
        guard case .malformedRecord(let at, let kind, let reason) = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(at == offset)
        #expect(kind == RecordKind.readChunk.rawValue)
        #expect(reason.contains("\(UInt64(1) << 40)"))
    }

    @Test func innerLengthsOfTwoToTheFortyAreMalformed() {
        // A read chunk whose byte count claims 2^40 inside a small payload.
        var chunk = RawTraceBuilder()
        let chunkOffset = chunk.offset
        let chunkFields: [UInt8] = [0, 0] + leb(0) + leb(4096) + leb(8) + [0] + [0] + leb(10)
        chunk.appendRecord(kind: RecordKind.readChunk.rawValue, payload: chunkFields + leb(1 << 40) + [0x41])
        #expect(readWhatCan(chunk.trace).error?.malformedOffset == chunkOffset)

        // A quiescent maps text claiming 2^40 bytes in total.
        var maps = RawTraceBuilder()
        let mapsOffset = maps.offset
        let fragment: [UInt8] = leb(0) + [0] + leb(5) + leb(1 << 40) + leb(0) + leb(1) + [0x41]
        maps.appendRecord(kind: RecordKind.quiescentFragment.rawValue, payload: fragment)
        #expect(readWhatCan(maps.trace).error?.malformedOffset == mapsOffset)
    }

    @Test func limitsAreTheCallersLimits() throws {
        let records = TraceFixtures.smallTrace(chunkBytes: 3000)
        let (bytes, _) = try TraceFixtures.encode(records)
        var tight = TraceLimits.standard
        tight.maxChunkBytes = 2999
        let (recovered, error, _) = readWhatCan(bytes, limits: tight)
        guard case .malformedRecord(_, let kind, _) = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(kind == RecordKind.readChunk.rawValue)
        #expect(recovered.allSatisfy { if case .readChunk = $0 { false } else { true } })
        tight.maxChunkBytes = 3000 + 200
        tight.maxBlockRawSize = 1000
        guard case .notATrace = readWhatCan(bytes, limits: tight).error else {
            Issue.record("a first block over the block limit should not pass for a trace")
            return
        }
    }

    @Test func unsupportedVersionIsReported() {
        let builder = RawTraceBuilder(version: 3)
        #expect(readWhatCan(builder.trace).error == .unsupportedVersion(3))
    }

    @Test func emptyAndRandomFilesAreNotTraces() {
        var generator = SystemRandomNumberGenerator()
        let random = (0 ..< 4096).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        for bytes in [[], [0x28], random, Array("MAPSRACE plain text".utf8)] {
            let error = readWhatCan(bytes).error
            guard case .notATrace = error else {
                Issue.record("\(bytes.count) bytes: expected notATrace, got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func zstdFilesOfOtherContentAreNotTraces() throws {
        let otherFrame = BlockCompressor.frame(Array("7f00-8000 r-xp 0 00:00 0 /bin/true\n".utf8))
        guard case .notATrace = readWhatCan(otherFrame).error else {
            Issue.record("a zstd frame of text passed for a trace")
            return
        }
        // The zstd tool's own output, content size unknown (compressed from a pipe).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        process.arguments = ["-q", "-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(repeating: 0x61, count: 10_000))
        try input.fileHandleForWriting.close()
        let compressed = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        try #require(compressed.count > 4)
        guard case .notATrace = readWhatCan(compressed).error else {
            Issue.record("the zstd tool's output passed for a trace")
            return
        }
    }

    @Test func recordRulesAreEnforced() {
        var beforeHeader = RawTraceBuilder(withHeader: false)
        beforeHeader.appendMutation(TraceFixtures.mutation(0))
        #expect(readWhatCan(beforeHeader.trace).error?.malformedOffset == 12)

        var lowUnknown = RawTraceBuilder()
        let lowOffset = lowUnknown.offset
        lowUnknown.appendRecord(kind: 0x20, payload: [1, 2, 3])
        #expect(readWhatCan(lowUnknown.trace).error?.malformedOffset == lowOffset)

        var highUnknown = RawTraceBuilder()
        highUnknown.appendRecord(kind: 0x41, payload: [1, 2, 3])
        highUnknown.appendMutation(TraceFixtures.mutation(7))
        let skipped = readWhatCan(highUnknown.trace)
        #expect(skipped.error == nil)
        #expect(skipped.records == [.header(TraceFixtures.header), .mutation(TraceFixtures.mutation(7))])
        #expect(skipped.reader.unknownRecordsSkipped == 1)
        #expect(skipped.reader.completion == .missingTrailer)

        var badUTF8 = RawTraceBuilder()
        let utf8Offset = badUTF8.offset
        badUTF8.appendRecord(kind: RecordKind.snapshotBegin.rawValue, payload: [0, 0, 2, 0xC3, 0x28])
        #expect(readWhatCan(badUTF8.trace).error?.malformedOffset == utf8Offset)

        var pastEnd = RawTraceBuilder()
        let pastEndOffset = pastEnd.offset
        pastEnd.appendRecord(kind: RecordKind.arena.rawValue, claimedLength: 50, payload: [1, 2])
        #expect(readWhatCan(pastEnd.trace).error?.malformedOffset == pastEndOffset)
    }

    @Test func aSkippableRecordInsideAQuiescentTextIsMalformed() {
        func fragment(offset: UInt64, _ byte: UInt8) -> [UInt8] {
            leb(0) + [0] + leb(5) + leb(2) + leb(offset) + leb(1) + [byte]
        }
        var builder = RawTraceBuilder()
        builder.appendRecord(kind: RecordKind.quiescentFragment.rawValue, payload: fragment(offset: 0, 0x41))
        let skippableOffset = builder.offset
        builder.appendRecord(kind: 0x41, payload: [1, 2, 3])
        builder.appendRecord(kind: RecordKind.quiescentFragment.rawValue, payload: fragment(offset: 1, 0x0A))
        let (recovered, error, _) = readWhatCan(builder.trace)
        #expect(recovered == [.header(TraceFixtures.header)])
        guard case .malformedRecord(let at, let kind, let reason) = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(at == skippableOffset)
        #expect(kind == 0x41)
        #expect(reason == "it interrupts the initial quiescent maps text after 1 of 2 bytes")
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: TraceError.io(path: "/nonexistent/trace.mrtrace", errno: ENOENT)) {
            try TraceReader(path: "/nonexistent/trace.mrtrace")
        }
    }
}

extension TraceError {
    /// The raw-stream offset of a malformed record, nil for any other error.
    var malformedOffset: UInt64? {
        if case .malformedRecord(let offset, _, _) = self { offset } else { nil }
    }
}

@Suite struct LEB128Tests {
    private func decode(_ bytes: [UInt8]) -> (value: UInt64?, consumed: Int) {
        bytes.withUnsafeBytes { raw in
            var cursor = PayloadCursor(raw.baseAddress!, raw.baseAddress! + raw.count, recordOffset: 0, kind: 0, originNs: 0)
            let value = try? cursor.leb()
            return (value, cursor.position - raw.baseAddress!)
        }
    }

    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 1 << 35, UInt64(Int64.max), .max])
    func roundTripsWithAndWithoutSlack(value: UInt64) {
        let encoded = leb(value)
        #expect(encoded.count == lebLength(value))
        #expect(decode(encoded).value == value)               // exactly the bytes: careful path
        #expect(decode(encoded + [UInt8](repeating: 0xAA, count: 12)) == (value, encoded.count)) // fast path
    }

    /// Decodes with `slack` readable bytes of terminator bytes (0x01) past
    /// the end, as a block's slack looks to the word-load path.
    private func decode(_ bytes: [UInt8], slack: Int) -> (value: UInt64?, consumed: Int) {
        let memory = bytes + [UInt8](repeating: 0x01, count: slack)
        return memory.withUnsafeBytes { raw in
            let start = raw.baseAddress!
            var cursor = PayloadCursor(
                start, start + bytes.count, readableEnd: start + memory.count, recordOffset: 0, kind: 0, originNs: 0)
            let value = try? cursor.leb()
            return (value, cursor.position - start)
        }
    }

    @Test func wordLoadPathDecodesEveryLengthAndStopsAtTheEnd() {
        var values: [UInt64] = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, .max, UInt64(Int64.max)]
        for bits in 1 ... 63 { values += [(1 << bits) - 1, 1 << bits, (1 << bits) + 1] }
        for value in values {
            let encoded = leb(value)
            for slack in [0, 3, 8, 16] {
                #expect(decode(encoded, slack: slack) == (value, encoded.count), "\(value) with \(slack) bytes of slack")
                // Followed by another field: only this value's bytes are taken.
                let followed = encoded + [0x05]
                #expect(decode(followed, slack: slack) == (value, encoded.count), "\(value) then a field, slack \(slack)")
                // Cut short: the bytes past `end` must not complete it.
                if encoded.count > 1 {
                    #expect(decode(Array(encoded.dropLast()), slack: slack).value == nil, "\(value) cut, slack \(slack)")
                }
            }
        }
    }

    @Test func overlongAndUnterminatedIntegersAreMalformed() {
        let tooBig: [UInt8] = [UInt8](repeating: 0xFF, count: 9) + [0x02]
        #expect(decode(tooBig).value == nil)
        #expect(decode(tooBig + [0, 0, 0]).value == nil)
        #expect(decode([0x80, 0x80]).value == nil)
    }
}
