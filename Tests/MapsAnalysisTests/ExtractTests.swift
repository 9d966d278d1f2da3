import Foundation
import Testing
import MapsAnalysis
import MapsTrace

/// A trace written with TraceWriter: initial maps, snapshots whose read
/// chunks are interleaved with mutations, and the bytes each file must hold.
private struct ExtractFixture {
    static let origin: UInt64 = 7_000_000_000

    var records: [TraceRecord] = []
    /// The expected contents of each snapshot file, by snapshot index.
    var expectedSnapshots: [UInt32: [UInt8]] = [:]
    let initialText = Array("00400000-00401000 r--p 00000000 00:00 0 \n7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n".utf8)

    static func text(snapshot: UInt32, read: UInt32) -> [UInt8] {
        Array("7f00000\(String(snapshot, radix: 16))\(read)000-7f00000\(String(snapshot, radix: 16))\(read + 1)000 rw-p 00000000 00:00 0 \n".utf8)
    }

    init(snapshotIndices: [UInt32], endLastSnapshot: Bool = true, trailer: Bool = true) {
        records.append(.header(TraceHeader(
            toolVersion: "test", kernelRelease: "6.18.0-test", kernelVersion: "#1", machine: "x86_64",
            pageSize: 4096, clockID: 1, clockResolutionNs: 1, startWallClockNs: 1, originNs: Self.origin,
            mutatorPID: 10, readerPID: 11, workload: "seed", workloadParameters: [], reader: "chromium",
            readerParameters: [], seed: 1)))
        records.append(.arena(ArenaRecord(start: 0x7f00_0000_0000, end: 0x7f00_0010_0000)))
        records.append(.quiescentMaps(QuiescentMaps(
            role: .initial, tBegin: Self.origin + 1, tEnd: Self.origin + 2, text: initialText)))
        var time = Self.origin + 100
        var mutation: UInt64 = 0
        for (position, index) in snapshotIndices.enumerated() {
            records.append(.snapshotBegin(SnapshotBegin(index: index, tBegin: time, strategy: "chromium")))
            // Three reads; the recorder may log them out of order, and one read fails.
            let reads: [UInt32] = [0, 2, 1]
            var expected: [UInt8] = []
            for read in [0, 1, 2] as [UInt32] { expected += Self.text(snapshot: index, read: read) }
            for read in reads {
                time += 10
                let bytes = Self.text(snapshot: index, read: read)
                records.append(.readChunk(ReadChunk(
                    snapshot: index, sequence: read, offset: 0, requested: 4096, returned: Int64(bytes.count),
                    tBegin: time, tEnd: time + 5, bytes: bytes)))
                records.append(.mutation(MutationRecord(
                    sequence: mutation, kind: .mprotect, address: 0x7f00_0000_0000, length: 4096, prot: 3,
                    tBegin: time + 6, tEnd: time + 8, threadID: 10)))
                mutation += 1
            }
            records.append(.readChunk(ReadChunk(
                snapshot: index, sequence: 3, offset: 0, requested: 4096, returned: -1, errno: EINTR,
                tBegin: time + 9, tEnd: time + 9, bytes: [])))
            expectedSnapshots[index] = expected
            let last = position == snapshotIndices.count - 1
            if !last || endLastSnapshot {
                records.append(.snapshotEnd(SnapshotEnd(index: index, tEnd: time + 20, flags: [.reachedEOF])))
            }
        }
        records.append(.quiescentMaps(QuiescentMaps(
            role: .final, tBegin: time + 100, tEnd: time + 200, text: Array("final\n".utf8))))
        if trailer {
            records.append(.trailer(TraceTrailer(
                mutations: mutation, snapshots: UInt64(snapshotIndices.count), readChunks: 0, quiescentMaps: 2,
                interrupted: false, mutatorLoopBegin: Self.origin, mutatorLoopEnd: time)))
        }
    }

    /// Writes the trace to a new temporary file; returns its path.
    func write(blockSize: Int = 1 << 20) throws -> String {
        let path = temporaryPath("trace") + ".mrtrace"
        let writer = try TraceWriter(path: path, blockSize: blockSize)
        for record in records { try writer.append(record) }
        try writer.finish()
        return path
    }
}

private func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "mapsrace-extract-\(name)-\(UUID().uuidString)"
}

private func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

private func fileNames(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

@Suite struct ExtractTests {
    @Test func writesEverySnapshotAsReadAndTheInitialMaps() throws {
        let fixture = ExtractFixture(snapshotIndices: [0, 1, 2, 100])
        let trace = try fixture.write()
        let directory = temporaryPath("out") + "/nested/dir"
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: directory)
        }
        var heard: [String] = []
        let result = try extractSnapshots(from: TraceReader(path: trace), to: directory) { heard.append($0.path) }

        #expect(try fileNames(in: directory) == [
            "saved-maps-00.txt", "saved-maps-01.txt", "saved-maps-02.txt", "saved-maps-100.txt", "saved-maps.txt",
        ])
        #expect(contents(directory + "/saved-maps.txt") == fixture.initialText)
        for (index, expected) in fixture.expectedSnapshots {
            #expect(contents(directory + "/" + snapshotFileName(index)) == expected, "snapshot \(index)")
        }
        #expect(result.completion == .complete)
        #expect(result.snapshotsInTrace == [0, 1, 2, 100])
        #expect(result.strayChunks == 0)
        #expect(heard == result.files.map(\.path))
        #expect(result.files.first?.content == .initialMaps)
        #expect(result.files.last?.content == .snapshot(index: 100, reads: 3, complete: true))
        #expect(result.files.last?.byteCount == fixture.expectedSnapshots[100]?.count)
    }

    @Test func oneSnapshotOnly() throws {
        let fixture = ExtractFixture(snapshotIndices: [0, 1, 2])
        let trace = try fixture.write()
        let directory = temporaryPath("out")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let result = try extractSnapshots(from: TraceReader(path: trace), to: directory, only: 1)
        #expect(try fileNames(in: directory) == ["saved-maps-01.txt", "saved-maps.txt"])
        #expect(contents(directory + "/saved-maps-01.txt") == fixture.expectedSnapshots[1])
        #expect(result.snapshotsInTrace == [0, 1, 2])
    }

    @Test func snapshotNotInTheTrace() throws {
        let trace = try ExtractFixture(snapshotIndices: [0, 1]).write()
        let directory = temporaryPath("out")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: directory)
        }
        #expect(throws: ExtractError.noSuchSnapshot(7, available: [0, 1], truncated: false)) {
            try extractSnapshots(from: TraceReader(path: trace), to: directory, only: 7)
        }
    }

    @Test func truncatedTraceKeepsWhatWasRecovered() throws {
        // The last snapshot never ends, then the file is cut inside its last block.
        let fixture = ExtractFixture(snapshotIndices: [0, 1], endLastSnapshot: false, trailer: false)
        let trace = try fixture.write(blockSize: 64)
        let directory = temporaryPath("out")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let whole = try #require(contents(trace))
        try Data(whole.dropLast()).write(to: URL(fileURLWithPath: trace))

        let result = try extractSnapshots(from: TraceReader(path: trace), to: directory)
        guard case .truncated = result.completion else {
            Issue.record("expected a truncated trace, got \(result.completion)")
            return
        }
        #expect(contents(directory + "/saved-maps-00.txt") == fixture.expectedSnapshots[0])
        #expect(contents(directory + "/saved-maps-01.txt") == fixture.expectedSnapshots[1])
        #expect(result.files.last?.content == .snapshot(index: 1, reads: 3, complete: false))
    }

    @Test func unwritableOutput() throws {
        let trace = try ExtractFixture(snapshotIndices: [0]).write()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        // A regular file where the directory should be.
        #expect(throws: ExtractError.outputNotWritable(path: trace, errno: ENOTDIR)) {
            try extractSnapshots(from: TraceReader(path: trace), to: trace)
        }
    }

    @Test func fileNamesFollowTheSeed() {
        #expect(snapshotFileName(0) == "saved-maps-00.txt")
        #expect(snapshotFileName(9) == "saved-maps-09.txt")
        #expect(snapshotFileName(42) == "saved-maps-42.txt")
        #expect(snapshotFileName(1234) == "saved-maps-1234.txt")
    }
}
