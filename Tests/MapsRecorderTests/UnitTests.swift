import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct ReaderStrategyParsing {
    @Test func namedStrategies() throws {
        #expect(try ReaderStrategy(parsing: "chromium") == .chromium)
        #expect(try ReaderStrategy(parsing: "pmap") == .pmap)
        #expect(try ReaderStrategy(parsing: "cat") == .read(bytes: 131072))
        #expect(try ReaderStrategy(parsing: "read:1") == .read(bytes: 1))
        #expect(try ReaderStrategy(parsing: "read:4194304") == .read(bytes: 4 << 20))
    }

    @Test(arguments: ["", "chrome", "read:", "read:0", "read:-5", "read:+8", "read:4194305", "read:4k", "READ:10"])
    func rejectsBadValues(_ text: String) {
        #expect(throws: RecordingError.self) { try ReaderStrategy(parsing: text) }
        do {
            _ = try ReaderStrategy(parsing: text)
        } catch {
            guard case .invalidReaderStrategy = error else { Issue.record("expected invalidReaderStrategy, got \(error)"); return }
            #expect(error.description.contains("'\(text)'"))
        }
    }

    @Test func namesRoundTripAndFileNames() throws {
        for text in ["chromium", "pmap", "read:1024"] {
            #expect(try ReaderStrategy(parsing: text).description == text)
        }
        #expect(ReaderStrategy.read(bytes: 4096).fileNameComponent == "read4096")
        #expect(
            RecordingConfiguration.defaultOutputPath(workload: .rolling, reader: .read(bytes: 1024), seed: 7)
                == "rolling-read1024-seed7.mrtrace")
        #expect(
            RecordingConfiguration(seed: 42, toolVersion: "t").outputPath == "rolling-chromium-seed42.mrtrace")
    }

    @Test func workloads() throws {
        #expect(try Workload(parsing: "rolling") == .rolling)
        #expect(throws: RecordingError.invalidWorkload("spiral")) { try Workload(parsing: "spiral") }
    }
}

@Suite struct PageOrder {
    @Test func splitMixMatchesTheReferenceSequence() {
        // First outputs of Vigna's splitmix64.c seeded with 0.
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func shuffleIsAPermutationFixedByTheSeed() {
        let order = rollingPageOrder(pageCount: 2000, seed: 99)
        #expect(order.sorted() == Array(0..<2000))
        #expect(order != Array(0..<2000))
        #expect(rollingPageOrder(pageCount: 2000, seed: 99) == order)
        #expect(rollingPageOrder(pageCount: 2000, seed: 100) != order)
    }

    @Test func boundedDrawsStayInRange() {
        var generator = SplitMix64(seed: 5)
        var seen = Set<UInt64>()
        for _ in 0..<1000 {
            let value = generator.next(below: 7)
            #expect(value < 7)
            seen.insert(value)
        }
        #expect(seen.count == 7)
    }

    @Test func mutationCountFollowsTheWorkload() {
        #expect(RollingWorkload.mutationCount(pageCount: 2000) == 1000 + 1 + 2 * 1999)
        #expect(RollingWorkload.mutationCount(pageCount: 5) == 3 + 1 + 8)
    }
}

@Suite struct SummaryJSON {
    func summary(trace: String?) -> RecordingSummary {
        RecordingSummary(
            trace: trace, traceBytes: trace == nil ? nil : 1234, kernelRelease: "6.18 \"x\"", workload: "rolling",
            pages: 2000, pageSize: 4096, seed: UInt64.max, reader: "read:1024", logMutations: trace != nil,
            mutations: 4999, snapshots: 3, reads: 120, bytesRead: 300_000, mutatorLoopNs: 12_345_678,
            interrupted: false, signal: 0)
    }

    @Test func everyDocumentedKeyIsPresent() {
        let text = summary(trace: "a.mrtrace").jsonText
        for key in [
            "trace", "trace_bytes", "kernel_release", "workload", "pages", "page_size", "seed", "reader",
            "log_mutations", "mutations", "snapshots", "reads", "bytes_read", "mutator_loop_ns", "interrupted",
            "signal",
        ] {
            #expect(text.contains("\"\(key)\": "), "missing \(key)")
        }
        #expect(text.contains("\"seed\": 18446744073709551615"))
        #expect(text.contains("\"kernel_release\": \"6.18 \\\"x\\\"\""))
        #expect(text.contains("\"mutator_loop_ns\": 12345678"))
    }

    @Test func noLogHasNullTrace() {
        let text = summary(trace: nil).jsonText
        #expect(text.contains("\"trace\": null"))
        #expect(text.contains("\"trace_bytes\": null"))
        #expect(text.contains("\"log_mutations\": false"))
    }
}

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

@Suite struct SnapshotTableBounds {
    private func configuration(snapshots: Int, reader: ReaderStrategy) -> RecordingConfiguration {
        RecordingConfiguration(pageCount: 200, seed: 1, reader: reader, snapshotCount: snapshots, toolVersion: "test")
    }

    @Test func retryStableAttemptsMustFitTheTable() throws {
        let tooMany = configuration(snapshots: 100_000, reader: .retryStable(maxAttempts: 1000))
        #expect(throws: RecordingError.self) { try tooMany.validate() }
        try configuration(snapshots: 1000, reader: .retryStable(maxAttempts: 1000)).validate()
        try configuration(snapshots: 100_000, reader: .chromium).validate()
    }

    @Test func onlyTheExpectedAttemptsArePopulated() {
        let reader = ReaderProcessConfiguration(
            targetPID: 1, strategy: .retryStable(maxAttempts: 50), snapshotCount: 10, logFD: -1, readyFD: -1,
            byteCapacity: 1 << 20)
        #expect(reader.snapshotCapacity == 500)
        #expect(reader.populatedSnapshotCount == 20)
        #expect(ReaderProcessConfiguration.snapshotEntries(Int.max, attemptsEach: 2)
            == ReaderProcessConfiguration.maximumSnapshotCapacity)
    }
}

@Suite struct ReaderProcessValidation {
    private func configuration(snapshots: Int, logFD: Int32 = 3) -> ReaderProcessConfiguration {
        ReaderProcessConfiguration(
            targetPID: 1, strategy: .pmap, snapshotCount: snapshots, logFD: logFD, readyFD: 4, byteCapacity: 1 << 20)
    }

    @Test(arguments: [-1, 0, Int.min, ReaderProcessConfiguration.maximumSnapshotCapacity + 1])
    func rejectsSnapshotCountsTheTableCannotHold(snapshots: Int) {
        #expect(throws: RecordingError.self) { try configuration(snapshots: snapshots).validate() }
    }

    @Test func rejectsANegativeDescriptorAndAcceptsASaneConfiguration() throws {
        #expect(throws: RecordingError.self) { try configuration(snapshots: 1, logFD: -1).validate() }
        try configuration(snapshots: 20).validate()
    }
}
