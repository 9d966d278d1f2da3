import Foundation
import Testing
@testable import MapsTrace

/// What one pass over a trace produced: the records (owned), the error that
/// stopped it, and the reader's counters afterwards.
private struct ReadOutcome: Equatable {
    var records: [TraceRecord] = []
    var error: TraceError?
    var completion: TraceCompletion
    var blocksRead: Int
    var recordsRead: Int
    var unknownRecordsSkipped: Int
    var rawBytesRead: UInt64
    var compressedBytesRead: UInt64

    init(_ records: [TraceRecord], _ error: TraceError?, _ reader: TraceReader) {
        self.records = records
        self.error = error
        completion = reader.completion
        blocksRead = reader.blocksRead
        recordsRead = reader.recordsRead
        unknownRecordsSkipped = reader.unknownRecordsSkipped
        rawBytesRead = reader.rawBytesRead
        compressedBytesRead = reader.compressedBytesRead
    }
}

/// Reads with `next()`.
private func readOwned(_ bytes: [UInt8], limits: TraceLimits = .standard) -> ReadOutcome {
    let reader = TraceReader(bytes: bytes, limits: limits)
    var records: [TraceRecord] = []
    do {
        while let record = try reader.next() { records.append(record) }
        return ReadOutcome(records, nil, reader)
    } catch {
        return ReadOutcome(records, error, reader)
    }
}

/// Reads with `nextView()`, copying each view out right away and putting
/// quiescent texts back together here (not with the library's assembler), so
/// the two paths share no code above the decoder.
private func readViews(_ bytes: [UInt8], limits: TraceLimits = .standard) -> ReadOutcome {
    let reader = TraceReader(bytes: bytes, limits: limits)
    var records: [TraceRecord] = []
    var text: [UInt8] = []
    do {
        while let view = try reader.nextView() {
            switch view {
            case .header:
                guard let header = reader.header else {
                    Issue.record("a header view but no reader.header")
                    continue
                }
                records.append(.header(header))
            case .arena(let arena): records.append(.arena(arena))
            case .mutation(let mutation): records.append(.mutation(mutation))
            case .snapshotBegin(let begin):
                records.append(.snapshotBegin(SnapshotBegin(
                    index: begin.index, tBegin: begin.tBegin,
                    strategy: String(decoding: Array(begin.strategyUTF8), as: UTF8.self))))
            case .snapshotEnd(let end): records.append(.snapshotEnd(end))
            case .traced(let traced): records.append(.traced(traced))
            case .readChunk(let chunk):
                records.append(.readChunk(ReadChunk(
                    snapshot: chunk.snapshot, sequence: chunk.sequence, offset: chunk.offset,
                    requested: chunk.requested, returned: chunk.returned, errno: chunk.errno,
                    tBegin: chunk.tBegin, tEnd: chunk.tEnd, bytes: Array(chunk.bytes))))
            case .quiescentFragment(let fragment):
                if fragment.fragmentOffset == 0 { text = [] }
                #expect(fragment.fragmentOffset == text.count)
                #expect(fragment.bytes.count <= quiescentFragmentSize)
                text.append(contentsOf: fragment.bytes)
                if text.count == fragment.totalLength {
                    #expect(fragment.completesText)
                    records.append(.quiescentMaps(QuiescentMaps(
                        role: fragment.role, tBegin: fragment.tBegin, tEnd: fragment.tEnd, text: text)))
                } else {
                    #expect(!fragment.completesText)
                }
            case .pause(let pause): records.append(.pause(pause))
            case .trailer(let trailer): records.append(.trailer(trailer))
            }
        }
        return ReadOutcome(records, nil, reader)
    } catch {
        return ReadOutcome(records, error, reader)
    }
}

/// `nextView()` must see exactly what `next()` sees: the same records, the
/// same error at the same point, the same counters, on good and bad traces.
@Suite struct ViewParityTests {
    @Test func fixturesReadTheSameBothWays() throws {
        let t = TraceFixtures.originNs + 1_000
        let bigMaps = QuiescentMaps(
            role: .initial, tBegin: t, tEnd: t + 5_000_000, text: TraceFixtures.mapsText(bytes: 3 << 20))
        let traces: [(name: String, records: [TraceRecord], blockSize: Int)] = [
            ("small", TraceFixtures.smallTrace(), 1 << 20),
            ("many blocks", TraceFixtures.smallTrace(mutations: 200), 300),
            ("large chunks", [
                .header(TraceFixtures.header),
                .snapshotBegin(SnapshotBegin(index: 0, tBegin: t, strategy: "ünïcødé strategy ✓")),
                .readChunk(TraceFixtures.chunk(snapshot: 0, sequence: 0, bytes: [], at: t)),
                .readChunk(TraceFixtures.chunk(
                    snapshot: 0, sequence: 1, bytes: TraceFixtures.mapsText(bytes: 700_000), at: t)),
                .snapshotEnd(SnapshotEnd(index: 0, tEnd: t + 99, flags: [.reachedEOF])),
                .trailer(TraceFixtures.trailer()),
            ], 256 * 1024),
            ("fragmented maps", [
                .header(TraceFixtures.header), .quiescentMaps(bigMaps), .mutation(TraceFixtures.mutation(0)),
                .quiescentMaps(QuiescentMaps(role: .final, tBegin: t + 9, tEnd: t + 10, text: [])),
                .trailer(TraceFixtures.trailer()),
            ], 1 << 20),
        ]
        for trace in traces {
            let (bytes, writer) = try TraceFixtures.encode(trace.records, blockSize: trace.blockSize)
            let owned = readOwned(bytes)
            let viewed = readViews(bytes)
            #expect(owned.error == nil, "\(trace.name)")
            #expect(owned.records == trace.records, "\(trace.name)")
            #expect(viewed == owned, "\(trace.name)")
            #expect(viewed.blocksRead == writer.blocksWritten, "\(trace.name)")
            #expect(viewed.recordsRead == trace.records.count, "\(trace.name)")
        }
    }

    @Test func extremeFieldValuesDecodeTheSameBothWays() throws {
        // 9- and 10-byte integers, negative times and ranges' ends take the
        // byte-by-byte LEB128 path; everything else the word path.
        var header = TraceFixtures.header
        header.startWallClockNs = .min
        header.seed = .max
        let before = TraceFixtures.originNs - 1
        let records: [TraceRecord] = [
            .header(header), .arena(ArenaRecord(start: 0, end: .max)),
            .mutation(MutationRecord(
                sequence: .max, kind: .mremap, address: .max, length: 0, prot: .min, flags: .max,
                newAddress: 1 << 56, newLength: (1 << 56) - 1, result: .min, errno: .max,
                tBegin: before, tEnd: before - 5, threadID: -1)),
            .mutation(TraceFixtures.mutation(1)),
            .snapshotEnd(SnapshotEnd(index: .max, tEnd: 0, flags: SnapshotFlags(rawValue: .max), errno: -7)),
        ]
        let (bytes, _) = try TraceFixtures.encode(records)
        let viewed = readViews(bytes)
        #expect(viewed.records == records)
        #expect(viewed == readOwned(bytes))
    }

    @Test func cutsAtEveryByteAgree() throws {
        let records = TraceFixtures.smallTrace(mutations: 30, chunkBytes: 120)
        let (bytes, _) = try TraceFixtures.encode(records, blockSize: 400)
        var truncations = 0
        for cut in 0 ..< bytes.count {
            let prefix = Array(bytes[..<cut])
            let owned = readOwned(prefix)
            #expect(readViews(prefix) == owned, "cut at \(cut)")
            if case .truncated = owned.completion { truncations += 1 }
        }
        #expect(truncations > bytes.count / 2)  // the cuts did land inside blocks
    }

    @Test func flippedBytesAgree() throws {
        let records = TraceFixtures.smallTrace(mutations: 20, chunkBytes: 200)
        let (bytes, _) = try TraceFixtures.encode(records, blockSize: 500)
        var failures = 0
        for position in 0 ..< bytes.count {
            for mask: UInt8 in [0x01, 0x80] {
                var damaged = bytes
                damaged[position] ^= mask
                let owned = readOwned(damaged)
                #expect(readViews(damaged) == owned, "byte \(position) ^ \(mask)")
                #expect(owned.recordsRead == owned.records.count, "byte \(position) ^ \(mask)")
                if owned.error != nil { failures += 1 }
            }
        }
        #expect(failures > bytes.count)  // the damage was seen
    }

    /// Raw streams no writer produces: forged lengths, bad fields, broken
    /// fragment sequences. Each is also checked for the error it must give.
    @Test func forgedRecordsAgree() {
        let encoder = RecordEncoder(originNs: TraceFixtures.originNs)
        func fragment(_ role: UInt8, total: UInt64, offset: UInt64, _ data: [UInt8], tBegin: UInt8 = 0) -> [UInt8] {
            leb(UInt64(role)) + [tBegin] + leb(5) + leb(total) + leb(offset) + leb(UInt64(data.count)) + data
        }
        var mutationPayload = ByteBuffer(capacity: 64)
        encoder.encodeMutation(TraceFixtures.mutation(3), into: &mutationPayload)
        let mutation = Array(mutationPayload.bytes)

        let cases: [(name: String, records: [(kind: UInt8, claimed: UInt64?, payload: [UInt8])])] = [
            ("payload length 2^40", [(RecordKind.readChunk.rawValue, 1 << 40, [1, 2, 3])]),
            ("payload past block end", [(RecordKind.arena.rawValue, 50, [1, 2])]),
            ("chunk bytes 2^40", [(RecordKind.readChunk.rawValue, nil,
                                   [0, 0] + leb(0) + leb(4096) + leb(8) + [0, 0] + leb(10) + leb(1 << 40) + [0x41])]),
            ("chunk bytes past payload", [(RecordKind.readChunk.rawValue, nil,
                                          [0, 0] + leb(0) + leb(4096) + leb(8) + [0, 0] + leb(10) + leb(5) + [0x41])]),
            ("mutation cut short", [(RecordKind.mutation.rawValue, nil, Array(mutation.dropLast(3)))]),
            ("mutation kind 9", [(RecordKind.mutation.rawValue, nil, [0, 9] + Array(mutation.dropFirst(2)))]),
            ("32-bit field too wide", [(RecordKind.snapshotEnd.rawValue, nil, [0, 0] + leb(1 << 33) + [0])]),
            ("overlong integer", [(RecordKind.arena.rawValue, nil, [UInt8](repeating: 0xFF, count: 9) + [0x02, 0])]),
            ("strategy not UTF-8", [(RecordKind.snapshotBegin.rawValue, nil, [0, 0, 2, 0xC3, 0x28])]),
            ("unknown kind 0x20", [(0x20, nil, [1, 2, 3])]),
            ("skippable kind 0x41", [(0x41, nil, [1, 2, 3]), (RecordKind.mutation.rawValue, nil, mutation)]),
            ("second header", [(RecordKind.header.rawValue, nil, [])]),
            ("fragment out of order", [
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 0, [1, 2, 3])),
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 4, [4, 5])),
            ]),
            ("fragment of another text", [
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 0, [1, 2, 3])),
                (RecordKind.quiescentFragment.rawValue, nil, fragment(1, total: 6, offset: 3, [4, 5, 6])),
            ]),
            ("fragment interrupted", [
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 0, [1, 2, 3])),
                (RecordKind.mutation.rawValue, nil, mutation),
            ]),
            ("fragment overruns", [(RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 2, offset: 0, [1, 2, 3]))]),
            ("empty fragment of a text", [(RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 2, offset: 0, []))]),
            ("text unfinished at the end", [
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 0, [1, 2, 3])),
            ]),
            ("text in two fragments", [
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 0, [1, 2, 3])),
                (RecordKind.quiescentFragment.rawValue, nil, fragment(0, total: 6, offset: 3, [4, 5, 6])),
                (RecordKind.mutation.rawValue, nil, mutation),
            ]),
        ]
        for forged in cases {
            var builder = RawTraceBuilder()
            for record in forged.records {
                if let claimed = record.claimed {
                    builder.appendRecord(kind: record.kind, claimedLength: claimed, payload: record.payload)
                } else {
                    builder.appendRecord(kind: record.kind, payload: record.payload)
                }
            }
            let trace = builder.trace
            let owned = readOwned(trace)
            let viewed = readViews(trace)
            #expect(viewed == owned, "\(forged.name)")
            // Only what was handed out counts, also when a record then fails.
            #expect(owned.recordsRead == owned.records.count, "\(forged.name)")
            switch forged.name {
            case "skippable kind 0x41":
                #expect(owned.error == nil)
                #expect(owned.unknownRecordsSkipped == 1)
                #expect(owned.records == [.header(TraceFixtures.header), .mutation(TraceFixtures.mutation(3))])
            case "text unfinished at the end":
                #expect(owned.error == nil)
                #expect(owned.completion == .missingTrailer)
                #expect(owned.records == [.header(TraceFixtures.header)])
            case "text in two fragments":
                #expect(owned.error == nil)
                #expect(owned.records.count == 3)
                #expect(owned.records[1] == .quiescentMaps(QuiescentMaps(
                    role: .initial, tBegin: TraceFixtures.originNs, tEnd: TraceFixtures.originNs + 5,
                    text: [1, 2, 3, 4, 5, 6])))
            default:
                #expect(owned.error?.malformedOffset != nil, "\(forged.name): \(String(describing: owned.error))")
            }
        }
    }

    @Test func callersLimitsApplyToViews() throws {
        let (bytes, _) = try TraceFixtures.encode(TraceFixtures.smallTrace(chunkBytes: 3000))
        var tight = TraceLimits.standard
        tight.maxChunkBytes = 2999
        let viewed = readViews(bytes, limits: tight)
        #expect(viewed == readOwned(bytes, limits: tight))
        guard case .malformedRecord(_, let kind, _) = viewed.error else {
            Issue.record("expected malformedRecord, got \(String(describing: viewed.error))")
            return
        }
        #expect(kind == RecordKind.readChunk.rawValue)
    }

    @Test func summaryOfViewsCountsTheOwnedRecords() throws {
        let records = TraceFixtures.smallTrace(mutations: 60, chunkBytes: 700)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 900)
        let half = Int(writer.blockEnds[writer.blockEnds.count / 2].compressedEnd) + 5
        for trace in [bytes, Array(bytes[..<half])] {
            let summary = try TraceSummary.summarize(TraceReader(bytes: trace))
            let reader = TraceReader(bytes: trace)
            let owned = try TraceFixtures.readAll(reader)
            var chunks = 0, bytesRead: UInt64 = 0, mutations = 0, begins = 0, ends = 0, maps = 0, pauses = 0
            for record in owned {
                switch record {
                case .mutation: mutations += 1
                case .snapshotBegin: begins += 1
                case .snapshotEnd: ends += 1
                case .readChunk(let chunk):
                    chunks += 1
                    bytesRead += UInt64(max(chunk.returned, 0))
                case .quiescentMaps: maps += 1
                case .pause: pauses += 1
                case .header, .arena, .trailer, .traced: break
                }
            }
            #expect(summary.mutations == mutations)
            #expect(summary.snapshotBegins == begins)
            #expect(summary.snapshotEnds == ends)
            #expect(summary.readChunks == chunks)
            #expect(summary.bytesRead == bytesRead)
            #expect(summary.quiescentMaps == maps)
            #expect(summary.pauses == pauses)
            #expect(summary.completion == reader.completion)
            #expect(summary.records == reader.recordsRead)
            #expect(summary.quiescentMaps >= 1)
            #expect(mutations > 0 && chunks > 0)
        }
    }

    @Test func chunkViewsPointIntoTheBlockAndCopyOut() throws {
        let t = TraceFixtures.originNs + 50
        let text = TraceFixtures.mapsText(bytes: 5000)
        let chunk = TraceFixtures.chunk(snapshot: 0, sequence: 0, bytes: text, at: t)
        let (bytes, _) = try TraceFixtures.encode([.header(TraceFixtures.header), .readChunk(chunk)])
        let reader = TraceReader(bytes: bytes)
        guard case .header = try reader.nextView() else {
            Issue.record("the first view is not the header")
            return
        }
        guard case .readChunk(let view) = try reader.nextView() else {
            Issue.record("the second view is not the read chunk")
            return
        }
        #expect(view.bytes.elementsEqual(text))
        #expect(view.record == chunk)
        let after = try reader.nextView()
        #expect(after == nil)
        #expect(reader.completion == .missingTrailer)
    }
}
