import Foundation
import Testing
@testable import MapsTrace

@Suite struct RoundTripTests {
    @Test func everyRecordKindRoundTrips() throws {
        let records = TraceFixtures.smallTrace()
        let (bytes, writer) = try TraceFixtures.encode(records)
        #expect(writer.compressedBytesWritten == UInt64(bytes.count))
        let reader = TraceReader(bytes: bytes)
        let decoded = try TraceFixtures.readAll(reader)
        #expect(decoded == records)
        #expect(reader.completion == .complete)
        #expect(reader.header == TraceFixtures.header)
        #expect(reader.recordsRead == records.count)
        #expect(reader.rawBytesRead == writer.rawBytesWritten)
        #expect(reader.compressedBytesRead == UInt64(bytes.count))
    }

    @Test func manySmallBlocksRoundTrip() throws {
        let records = TraceFixtures.smallTrace(mutations: 200)
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: 300)
        #expect(writer.blocksWritten > 20)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.blocksRead == writer.blocksWritten)
        #expect(reader.completion == .complete)
    }

    @Test func emptyAndLargeChunksRoundTrip() throws {
        let blockSize = 256 * 1024
        let t = TraceFixtures.originNs + 1_000
        let failed = ReadChunk(
            snapshot: 0, sequence: 3, offset: 8192, requested: 4096, returned: -1, errno: 4,
            tBegin: t, tEnd: t + 10, bytes: [])
        let records: [TraceRecord] = [
            .header(TraceFixtures.header),
            .snapshotBegin(SnapshotBegin(index: 0, tBegin: t, strategy: "cat")),
            .readChunk(TraceFixtures.chunk(snapshot: 0, sequence: 0, bytes: [], at: t)),
            .readChunk(TraceFixtures.chunk(snapshot: 0, sequence: 1, bytes: TraceFixtures.mapsText(bytes: 70_000), at: t)),
            .readChunk(TraceFixtures.chunk(
                snapshot: 0, sequence: 2, bytes: TraceFixtures.mapsText(bytes: 3 * blockSize, seed: 1), at: t)),
            .readChunk(failed),
            .snapshotEnd(SnapshotEnd(index: 0, tEnd: t + 99, flags: [.failed, .interrupted], errno: 4)),
            .trailer(TraceFixtures.trailer(interrupted: true)),
        ]
        let (bytes, writer) = try TraceFixtures.encode(records, blockSize: blockSize)
        #expect(writer.blocksWritten >= 3)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.completion == .complete)
    }

    @Test func multiMegabyteQuiescentMapsAreFragmentedAndReassembled() throws {
        let initial = QuiescentMaps(
            role: .initial, tBegin: TraceFixtures.originNs, tEnd: TraceFixtures.originNs + 5_000_000,
            text: TraceFixtures.mapsText(bytes: 3 << 20))
        let final = QuiescentMaps(
            role: .final, tBegin: TraceFixtures.originNs + 9_000_000, tEnd: TraceFixtures.originNs + 9_500_000,
            text: [])
        let records: [TraceRecord] = [
            .header(TraceFixtures.header), .quiescentMaps(initial), .mutation(TraceFixtures.mutation(0)),
            .quiescentMaps(final), .trailer(TraceFixtures.trailer()),
        ]
        let (bytes, writer) = try TraceFixtures.encode(records)
        #expect(writer.blocksWritten >= 3)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        // Fragments are records of their own in the raw stream.
        #expect(writer.rawBytesWritten > UInt64(initial.text.count))
    }

    @Test func extremeFieldValuesRoundTrip() throws {
        var header = TraceFixtures.header
        header.workloadParameters = []
        header.kernelVersion = "ünïcødé ✓"
        header.startWallClockNs = .min
        header.seed = .max
        let before = TraceFixtures.originNs - 1  // a timestamp before the origin
        let mutation = MutationRecord(
            sequence: .max, kind: .mremap, address: .max, length: 0, prot: .min, flags: .max,
            newAddress: 1, newLength: .max, result: .min, errno: .max,
            tBegin: before, tEnd: before - 5, threadID: -1)  // tEnd before tBegin still round-trips
        let records: [TraceRecord] = [
            .header(header), .arena(ArenaRecord(start: 0, end: .max)), .mutation(mutation),
            .snapshotEnd(SnapshotEnd(index: .max, tEnd: 0, flags: SnapshotFlags(rawValue: .max), errno: -7)),
        ]
        let (bytes, _) = try TraceFixtures.encode(records)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.completion == .missingTrailer)
    }

    @Test func readerOpensFilesByPath() throws {
        let records = TraceFixtures.smallTrace()
        let path = TraceFixtures.temporaryPath("by-path")
        defer { unlink(path) }
        let writer = try TraceWriter(path: path)
        for record in records { try writer.append(record) }
        try writer.finish()
        try writer.finish()  // idempotent
        let reader = try TraceReader(path: path)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(try reader.next() == nil)
        #expect(reader.completion == .complete)
    }

    @Test func writerRefusesRecordsOutOfOrder() throws {
        let path = TraceFixtures.temporaryPath("order")
        defer { unlink(path) }
        let writer = try TraceWriter(path: path)
        #expect(throws: TraceError.self) { try writer.append(.arena(TraceFixtures.arena)) }
        try writer.append(.header(TraceFixtures.header))
        #expect(throws: TraceError.self) { try writer.append(.header(TraceFixtures.header)) }
        try writer.append(.trailer(TraceFixtures.trailer()))
        #expect(throws: TraceError.self) { try writer.append(.mutation(TraceFixtures.mutation(1))) }
        try writer.finish()
    }

    @Test func writerReportsUnwritablePaths() {
        #expect(throws: TraceError.io(path: "/nonexistent-dir/x.mrtrace", errno: ENOENT)) {
            try TraceWriter(path: "/nonexistent-dir/x.mrtrace")
        }
    }

    @Test func zstdToolAcceptsAWrittenTrace() throws {
        let records = TraceFixtures.smallTrace(mutations: 300)
        let path = TraceFixtures.temporaryPath("zstd-t")
        defer { unlink(path) }
        let writer = try TraceWriter(path: path, blockSize: 2048)
        for record in records { try writer.append(record) }
        try writer.finish()

        let test = try runZstd(["-q", "-t", path])
        #expect(test.status == 0)
        let decompressed = try runZstd(["-q", "-dc", path])
        #expect(decompressed.status == 0)
        #expect(UInt64(decompressed.output.count) == writer.rawBytesWritten)
        #expect(Array(decompressed.output.prefix(8)) == Array("MAPSRACE".utf8))
        #expect(Array(decompressed.output[8 ..< 12]) == [2, 0, 0, 0])
    }

    private func runZstd(_ arguments: [String]) throws -> (status: Int32, output: [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, [UInt8](output))
    }
}
