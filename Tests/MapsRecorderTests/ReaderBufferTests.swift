// The reader's byte buffer sized per strategy, and bufferFull snapshots reported.

import Foundation
import MapsTrace
import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ReaderBufferSizing {
    let limit = 4 << 30

    @Test func retryStableFaultsInTwoAttemptsAndReservesEvery() {
        let plan = ReaderStrategy.retryStable(maxAttempts: 10).bufferPlan(
            snapshotBytes: 4_000_000, snapshots: 20, limit: limit)
        #expect(plan.capacityBytes >= 10 * 20 * 4_000_000)
        #expect(plan.populatedBytes >= 2 * 20 * 4_000_000)
        #expect(plan.populatedBytes < 3 * 20 * 4_000_000)
    }

    @Test func otherReadersFaultInOneTextPerSnapshotAndReserveTwice() {
        for strategy in [ReaderStrategy.chromium, .pmap, .cat, .smaps, .frozen, .procmapQuery] {
            let plan = strategy.bufferPlan(snapshotBytes: 3_000_000, snapshots: 20, limit: limit)
            #expect(plan.populatedBytes >= 20 * 3_000_000, "\(strategy)")
            #expect(plan.populatedBytes <= 20 * 3_000_000 * 3 / 2, "\(strategy)")
            #expect(plan.capacityBytes >= 2 * plan.populatedBytes - 2 * strategy.largestRequestBytes, "\(strategy)")
        }
    }

    /// A default smaps recording (65000 lines of ~800 bytes, 20 snapshots)
    /// is about 1.3 GB: more than the old 512 MiB cap, within the new one.
    @Test func aDefaultSmapsRecordingFits() {
        let snapshotBytes = 65_002 * 800 + (200 << 10)
        let plan = ReaderStrategy.smaps.bufferPlan(snapshotBytes: snapshotBytes, snapshots: 20, limit: limit)
        #expect(plan.populatedBytes > 512 << 20)
        #expect(plan.populatedBytes >= 20 * snapshotBytes)
        #expect(plan.capacityBytes <= limit)
    }

    @Test func everyReadHasRoomForItsLargestRequest() {
        // A tiny maps text and 4 MiB requests: the buffer still takes them.
        let plan = ReaderStrategy.read(bytes: 4 << 20).bufferPlan(snapshotBytes: 20_000, snapshots: 2, limit: limit)
        #expect(plan.populatedBytes >= 2 * 20_000 + (4 << 20))
    }

    @Test func theLimitHoldsAndNothingOverflows() {
        for strategy in [ReaderStrategy.chromium, .retryStable(maxAttempts: 1000)] {
            let plan = strategy.bufferPlan(snapshotBytes: Int.max / 3, snapshots: 100_000, limit: 1 << 30)
            #expect(plan.capacityBytes == 1 << 30)
            #expect(plan.populatedBytes == 1 << 30)
        }
        let small = ReaderStrategy.chromium.bufferPlan(snapshotBytes: 100, snapshots: 1, limit: limit)
        #expect(small.capacityBytes == ReaderBufferPlan.minimumCapacityBytes)
    }

    /// Only the populated prefix of a reader region is resident (mincore).
    @Test func onlyThePopulatedPartIsFaultedIn() throws {
        let page = MachineLimits.pageSize
        let region = try PreallocatedRegion(byteCount: 256 * page, populatedBytes: 64 * page, purpose: "a test")
        var residency = [UInt8](repeating: 0, count: 256)
        try #require(mincore(region.bytes.baseAddress, region.bytes.count, &residency) == 0)
        let resident = residency.map { $0 & 1 == 1 }
        #expect(resident[0..<64].allSatisfy { $0 })
        #expect(resident[64...].allSatisfy { !$0 })
    }
}


/// The integer value of `"key": N` in a JSON object printed by `record --json`.
func jsonInteger(_ key: String, in text: String) -> Int? {
    guard let range = text.range(of: "\"\(key)\": ") else { return nil }
    return Int(text[range.upperBound...].prefix(while: { $0.isNumber }))
}

@Suite(.serialized) struct BufferFullRecordings {
    static let arguments = [
        "record", "--pages", "300", "--snapshots", "20", "--seed", "3", "-o", "t.mrtrace", "--json",
    ]

    @Test func aFullBufferIsCountedWarnedAndInTheTrace() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Small enough that 20 snapshots overflow it even when the arena has
        // merged down to a few lines (a snapshot is then ~5 KB), large enough
        // for the first (~20 KB at 300 pages).
        let bufferBytes = 64 << 10
        let run = try runMapsrace(Self.arguments + ["--test-reader-buffer-bytes", "\(bufferBytes)"], in: directory)
        try #require(run.exitCode == 0, "\(run.standardError)")
        let snapshots = try #require(jsonInteger("snapshots", in: run.standardOutput))
        #expect(snapshots >= 1 && snapshots < 20)
        #expect(jsonInteger("buffer_full_snapshots", in: run.standardOutput) == 1)
        #expect(jsonInteger("reader_buffer_bytes", in: run.standardOutput) == bufferBytes)
        #expect(run.standardError.contains("mapsrace: warning: the reader's buffer"))
        #expect(run.standardError.contains("after \(snapshots) of 20 snapshots"))
        let ends = try LoadedTrace(path: directory + "/t.mrtrace").snapshotEnds
        #expect(ends.count == snapshots)
        #expect(ends.last?.flags.contains(.bufferFull) == true)
        #expect(ends.dropLast().allSatisfy { !$0.flags.contains(.bufferFull) })
    }

    @Test(arguments: ["chromium", "smaps", "retry-stable:4"])
    func thePlannedBufferHoldsEverySnapshot(_ reader: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(Self.arguments + ["--reader", reader], in: directory, environment: [])
        try #require(run.exitCode == 0, "\(run.standardError)")
        #expect(jsonInteger("buffer_full_snapshots", in: run.standardOutput) == 0)
        #expect((jsonInteger("reader_buffer_bytes", in: run.standardOutput) ?? 0) >= ReaderBufferPlan.minimumCapacityBytes)
        #expect(!run.standardError.contains("warning"))
        let ends = try LoadedTrace(path: directory + "/t.mrtrace").snapshotEnds
        #expect(ends.allSatisfy { !$0.flags.contains(.bufferFull) })
        let strategy = try ReaderStrategy(parsing: reader)
        if case .retryStable(let attempts) = strategy {
            #expect(retryResults(ends, maxAttempts: attempts) == 20)
        } else {
            #expect(ends.count == 20)
        }
        #expect(jsonInteger("snapshots", in: run.standardOutput) == ends.count)
    }
}
