import Foundation
@testable import MapsTrace

/// Deterministic records of every kind, shaped like a real recording.
enum TraceFixtures {
    static let originNs: UInt64 = 5_000_000_000_000

    static let header = TraceHeader(
        toolVersion: "0.1.0-test", kernelRelease: "6.18.0-test", kernelVersion: "#1 SMP PREEMPT_DYNAMIC",
        machine: "x86_64", pageSize: 4096, clockID: 1, clockResolutionNs: 1,
        startWallClockNs: 1_760_000_000_123_456_789, originNs: originNs, mutatorPID: 4242, readerPID: 4243,
        workload: "seed", workloadParameters: [TraceParameter("pages", "65000"), TraceParameter("rounds", "200")],
        reader: "chromium", readerParameters: [TraceParameter("first", "4096"), TraceParameter("next", "65536")],
        seed: 0xDEAD_BEEF_F00D)

    static let arena = ArenaRecord(start: 0x7f3a_0000_0000, end: 0x7f3a_0000_0000 + 65000 * 4096)

    /// A maps line for page `index` of the arena.
    static func mapsLine(_ index: Int, writable: Bool) -> String {
        let start = arena.start + UInt64(index) * 4096
        let hex = { (value: UInt64) in String(value, radix: 16) }
        return "\(hex(start))-\(hex(start + 4096)) \(writable ? "rw-p" : "---p") 00000000 00:00 0 \n"
    }

    /// About `size` bytes of maps text.
    static func mapsText(bytes size: Int, seed: Int = 0) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(size + 100)
        var index = 0
        while text.count < size {
            text.append(contentsOf: mapsLine(index, writable: (index + seed) % 7 == 0).utf8)
            index += 1
        }
        return text
    }

    static func mutation(_ sequence: UInt64) -> MutationRecord {
        let tBegin = originNs + 1_000 + sequence * 730
        return MutationRecord(
            sequence: sequence, kind: MutationKind.allCases[Int(sequence % 4)],
            address: arena.start + (sequence % 65000) * 4096, length: 4096,
            prot: sequence % 2 == 0 ? 3 : 0, flags: 0x22, newAddress: sequence % 4 == 3 ? arena.start : 0,
            newLength: sequence % 4 == 3 ? 8192 : 0, result: sequence % 11 == 0 ? -1 : 0,
            errno: sequence % 11 == 0 ? 12 : 0, tBegin: tBegin, tEnd: tBegin + 350 + sequence % 9,
            threadID: 4242)
    }

    static func chunk(snapshot: UInt32, sequence: UInt32, bytes: [UInt8], at time: UInt64) -> ReadChunk {
        ReadChunk(
            snapshot: snapshot, sequence: sequence, offset: UInt64(sequence) * 4096, requested: 65536,
            returned: Int64(bytes.count), tBegin: time, tEnd: time + 2_000, bytes: bytes)
    }

    static func trailer(interrupted: Bool = false) -> TraceTrailer {
        TraceTrailer(
            mutations: 100, snapshots: 2, readChunks: 10, quiescentMaps: 2, interrupted: interrupted,
            signal: interrupted ? 2 : 0, mutatorLoopBegin: originNs + 900, mutatorLoopEnd: originNs + 330_000_000)
    }

    /// A small trace using every record kind.
    static func smallTrace(mutations: Int = 40, chunkBytes: Int = 300) -> [TraceRecord] {
        var records: [TraceRecord] = [.header(header), .arena(arena)]
        records.append(.quiescentMaps(QuiescentMaps(
            role: .initial, tBegin: originNs + 10, tEnd: originNs + 500, text: mapsText(bytes: 700))))
        for sequence in 0 ..< UInt64(mutations) {
            records.append(.mutation(mutation(sequence)))
            if sequence % 10 == 5 {
                let index = UInt32(sequence / 10)
                let t = originNs + 2_000 + sequence * 730
                records.append(.snapshotBegin(SnapshotBegin(index: index, tBegin: t, strategy: "chromium")))
                records.append(.readChunk(chunk(
                    snapshot: index, sequence: 0, bytes: mapsText(bytes: chunkBytes, seed: Int(sequence)), at: t + 10)))
                records.append(.readChunk(chunk(snapshot: index, sequence: 1, bytes: [], at: t + 20)))
                records.append(.snapshotEnd(SnapshotEnd(index: index, tEnd: t + 30, flags: [.reachedEOF])))
                if index % 2 == 1 {
                    // A frozen reader's pause around this snapshot.
                    records.append(.pause(ReaderPause(snapshot: index, tRequested: t - 5, tStopped: t - 1, tResumed: t + 35)))
                }
            }
        }
        records.append(.quiescentMaps(QuiescentMaps(
            role: .final, tBegin: originNs + 400_000_000, tEnd: originNs + 400_100_000,
            text: mapsText(bytes: 650, seed: 3))))
        records.append(.trailer(trailer()))
        return records
    }

    /// Writes `records` to a temporary file and returns its bytes and the writer.
    static func encode(_ records: [TraceRecord], blockSize: Int = 1 << 20) throws -> (bytes: [UInt8], writer: TraceWriter) {
        let path = temporaryPath("encode")
        defer { unlink(path) }
        let writer = try TraceWriter(path: path, blockSize: blockSize)
        for record in records { try writer.append(record) }
        try writer.finish()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return (bytes, writer)
    }

    static func readAll(_ reader: TraceReader) throws -> [TraceRecord] {
        var records: [TraceRecord] = []
        while let record = try reader.next() { records.append(record) }
        return records
    }

    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "mapsrace-test-\(name)-\(getpid())-\(UUID().uuidString).mrtrace"
    }
}

/// Builds raw record streams by hand, for traces no writer would produce.
struct RawTraceBuilder: ~Copyable {
    private var stream = ByteBuffer(capacity: 4096)
    private let encoder = RecordEncoder(originNs: TraceFixtures.originNs)

    init(version: UInt32 = traceFormatVersion, withHeader: Bool = true) {
        stream.append(traceMagic)
        stream.appendUInt32LE(version)
        if withHeader {
            var payload = ByteBuffer(capacity: 256)
            encoder.encodeHeader(TraceFixtures.header, into: &payload)
            appendRecord(kind: RecordKind.header.rawValue, payload: Array(payload.bytes))
        }
    }

    /// Raw-stream offset of the next record.
    var offset: UInt64 { UInt64(stream.count) }

    mutating func appendRecord(kind: UInt8, payload: [UInt8]) {
        stream.append(byte: kind)
        stream.appendLEB(UInt64(payload.count))
        stream.append(payload)
    }

    /// A record whose length field says `claimedLength` whatever follows.
    mutating func appendRecord(kind: UInt8, claimedLength: UInt64, payload: [UInt8]) {
        stream.append(byte: kind)
        stream.appendLEB(claimedLength)
        stream.append(payload)
    }

    mutating func appendMutation(_ mutation: MutationRecord) {
        var payload = ByteBuffer(capacity: 64)
        encoder.encodeMutation(mutation, into: &payload)
        appendRecord(kind: RecordKind.mutation.rawValue, payload: Array(payload.bytes))
    }

    var raw: [UInt8] { Array(stream.bytes) }

    /// The stream as one zstd frame (one block).
    var trace: [UInt8] { BlockCompressor.frame(raw) }
}

/// LEB128 of `value`, for hand-built payloads.
func leb(_ value: UInt64) -> [UInt8] {
    var buffer = ByteBuffer(capacity: 16)
    buffer.appendLEB(value)
    return Array(buffer.bytes)
}
