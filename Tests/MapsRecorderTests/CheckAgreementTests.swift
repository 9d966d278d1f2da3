// `check` and `analyze` run one implementation of the kernel's no-overlap
// guarantee (MapsCheck's AddressOrder), so on every snapshot extracted from
// a recording `check` must find an overlapping, backwards or repeated line
// exactly when `analyze` says the snapshot broke the guarantee, and name
// every line `analyze` calls duplicated. The recordings: the committed
// sample traces (one of them has a snapshot with a duplicated range) and
// small ones made here with the readers that duplicate ranges most often.

import Foundation
import MapsAnalysis
import MapsCheck
import MapsModel
import MapsTestSupport
import MapsTrace
import Testing

private let samples = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces")

/// What one trace's snapshots gave: how many broke the guarantee and how many did not.
private struct Agreement {
    var overlapping = 0
    var clean = 0
}

/// Extracts every snapshot of `trace`, analyses the trace and checks each
/// file, expecting the two to agree.
private func compare(trace: String, format: CheckFormat) throws -> Agreement {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let extraction = try extractSnapshots(from: TraceReader(path: trace), to: directory)
    let report = try TraceAnalysis(.file(trace)).run()
    try #require(!report.snapshots.isEmpty)
    var agreement = Agreement()
    for snapshot in report.snapshots {
        let file = directory + "/" + snapshotFileName(UInt32(snapshot.index))
        try #require(extraction.files.contains { $0.path == file })
        let result = try checkMaps(ByteInput(path: file), format: format)
        // `analyze` numbers smaps mappings (header lines), `check` text lines.
        let mappingNumber = try mappingNumbers(of: file, format: format)
        let orderLines = result.findings
            .filter { [.overlap, .backwards, .duplicateLine].contains($0.kind) }
            .map { mappingNumber[$0.line] ?? -1 }
        #expect(orderLines.isEmpty == snapshot.noOverlap, "\(trace) snapshot \(snapshot.index)")
        let duplicated = snapshot.anomalies.filter { $0.kind == .duplicated }.map(\.boundary.line)
        #expect(Set(duplicated).isSubset(of: Set(orderLines)), "\(trace) snapshot \(snapshot.index): \(duplicated) vs \(orderLines)")
        // A snapshot read to its end is torn for `check` exactly when it broke the guarantee.
        if snapshot.complete {
            #expect((result.verdict == .torn) == !snapshot.noOverlap, "\(trace) snapshot \(snapshot.index)")
        }
        #expect(result.mappings == snapshot.lines)
        if snapshot.noOverlap { agreement.clean += 1 } else { agreement.overlapping += 1 }
    }
    // The quiescent maps read before the workload started existed.
    let initial = try checkMaps(ByteInput(path: directory + "/saved-maps.txt"), format: format)
    #expect(initial.impossibilities == 0)
    return agreement
}

/// Text line number -> the number `analyze` gives the line: the same for
/// maps, the mapping's number (its header's rank) for smaps.
private func mappingNumbers(of file: String, format: CheckFormat) throws -> [Int: Int] {
    let text = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
    var numbers: [Int: Int] = [:]
    var mapping = 0
    for (index, line) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
        guard let first = line.first else { continue }
        if format == .smaps && !MapsParser.isSmapsHeader(first) { continue }
        mapping += 1
        numbers[index + 1] = mapping
    }
    return numbers
}

@Suite(.serialized) struct CheckAgreesWithAnalyze {
    @Test func onTheCommittedSampleTraces() throws {
        var total = Agreement()
        for name in ["rolling-chromium-4000p-seed2", "rolling-pmap-4000p-seed1", "rolling-read4096-4000p-seed4"] {
            let agreement = try compare(trace: samples.appendingPathComponent(name + ".mrtrace").path, format: .linux)
            total.overlapping += agreement.overlapping
            total.clean += agreement.clean
        }
        // rolling-pmap-4000p-seed1's snapshot 3 reports a range twice (its golden analysis).
        #expect(total.overlapping >= 1)
        #expect(total.clean >= 1)
    }

    /// Fresh recordings in `check`'s other formats and readers; whatever
    /// the race gave, the two agree.
    @Test(arguments: [
        (["--workload", "split-merge", "--reader", "procmap-query", "--snapshots", "20"], CheckFormat.linux),
        (["--workload", "rolling", "--reader", "cat", "--snapshots", "10"], CheckFormat.linux),
        (["--workload", "rolling", "--reader", "smaps", "--snapshots", "3"], CheckFormat.smaps),
    ])
    func onFreshRecordings(arguments: [String], format: CheckFormat) throws {
        let agreement = try recordAndCompare(seed: 3, arguments: arguments, format: format)
        #expect(agreement.overlapping + agreement.clean > 0)
    }

    /// Fresh recordings until one holds a snapshot with a range reported
    /// twice (`rolling` with `procmap-query` or `pmap`: about one
    /// recording in two here, each a tenth of a second), all compared.
    @Test func onFreshRecordingsWithAndWithoutDuplicatedRanges() throws {
        var total = Agreement()
        var recordings = 0
        for seed in 1...40 where total.overlapping == 0 || total.clean == 0 {
            let reader = seed % 2 == 0 ? "pmap" : "procmap-query"
            let agreement = try recordAndCompare(
                seed: UInt64(seed), arguments: ["--workload", "rolling", "--reader", reader, "--snapshots", "20"],
                format: .linux)
            total.overlapping += agreement.overlapping
            total.clean += agreement.clean
            recordings += 1
        }
        #expect(total.overlapping >= 1, "no duplicated range in \(recordings) recordings")
        #expect(total.clean >= 1)
    }
}

private func recordAndCompare(seed: UInt64, arguments: [String], format: CheckFormat) throws -> Agreement {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let run = try runMapsrace(["record", "--pages", "2000", "--seed", "\(seed)", "-o", "trace.mrtrace"] + arguments, in: directory)
    try #require(run.exitCode == 0, "record failed: \(run.standardError)")
    return try compare(trace: directory + "/trace.mrtrace", format: format)
}

/// `page_boundary_jump` rests on where a page-per-read reader's reads
/// begin. In the committed `read:4096` recording every read is a request of
/// 4096 bytes: the boundaries `PageFill` predicts from the line lengths
/// must be exactly where the recorded reads began.
@Test func pageFillPredictsTheRecordedReadBoundaries() throws {
    let trace = try LoadedTrace(path: samples.appendingPathComponent("rolling-read4096-4000p-seed4.mrtrace").path)
    let chunks = trace.chunks
    try #require(!chunks.isEmpty)
    #expect(chunks.allSatisfy { $0.requested == 4096 })
    var compared = 0
    for snapshot in Set(chunks.map(\.snapshot)).sorted() {
        let reads = chunks.filter { $0.snapshot == snapshot && $0.returned > 0 }.sorted { $0.sequence < $1.sequence }
        let recorded = reads.dropFirst().map { Int($0.offset) }
        let text = reads.flatMap(\.bytes)
        var fill = PageFill()
        var predicted: [Int] = []
        var lineStart = 0
        for (index, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
            if fill.startsPage(lineLength: index + 1 - lineStart) { predicted.append(lineStart) }
            lineStart = index + 1
        }
        #expect(predicted == recorded, "snapshot \(snapshot)")
        compared += recorded.count
    }
    #expect(compared > 100)
}
