import MapsAnalysis
import MapsRecorder
import MapsTestSupport
import MapsTrace
import Testing

// Small real recordings with the validating tool profiles: what the trace
// records of each check, and that the analysis judges every snapshot.

private func record(_ reader: String, in directory: String) throws -> (LoadedTrace, AnalysisReport) {
    let path = directory + "/\(reader).mrtrace"
    let run = try runMapsrace(
        ["record", "--reader", reader, "--workload", "split-merge", "--pages", "2000", "--snapshots", "3",
         "--seed", "5", "-o", path], in: directory)
    try #require(run.exitCode == 0, "record --reader \(reader): \(run.standardError)")
    return (try LoadedTrace(path: path), try TraceAnalysis(.file(path)).run())
}

@Suite("Tool profiles in real recordings")
struct ToolProfileRecordingTests {
    @Test(arguments: ["crashpad", "cpptrace"])
    func overlapRetryReadersLogEveryAttemptAndEveryResultIsJudged(reader: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (trace, report) = try record(reader, in: directory)
        #expect(trace.header?.readerParameters[parameter: "validation"] == "overlap_retry")
        #expect(trace.header?.readerParameters[parameter: "max_attempts"] == "3")
        let flags = trace.snapshotEnds.map(\.flags)
        #expect(flags.allSatisfy { $0.contains(.retryAttempt) })
        // Three results: each ends accepted or given up, after at most 3 attempts.
        let results = flags.filter { $0.contains(.accepted) || $0.contains(.gaveUp) }
        #expect(results.count == 3)
        #expect(flags.count <= 9)
        // Every attempt not accepted was rejected by the check, and only those.
        #expect(flags.allSatisfy { $0.contains(.accepted) != $0.contains(.validationRejected) })
        let totals = try #require(report.validation)
        #expect(totals.rule == "overlap_retry")
        #expect(totals.caught + totals.escaped + totals.clean + totals.falseAlarms + totals.unjudged == flags.count)
        // A rejected attempt is one whose lines overlap: the analysis sees a duplicate there.
        for (snapshot, flag) in zip(report.snapshots, flags) where flag.contains(.validationRejected) {
            #expect(!snapshot.noOverlap)
        }
    }

    @Test func dynamorioFlagsASkippedLineOnlyWhereLinesGoBackwards() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (trace, report) = try record("dynamorio", in: directory)
        #expect(report.validation?.rule == "skip_backwards")
        #expect(report.snapshots.count == 3)
        for (snapshot, end) in zip(report.snapshots, trace.snapshotEnds) {
            #expect(snapshot.validation?.action == (end.flags.contains(.linesSkipped) ? "skipped" : "passed"))
        }
    }

    @Test func perfReadsTheTaskMapsAndSanitizerDoublesUntilItFits() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (perf, perfReport) = try record("perf", in: directory)
        #expect(perf.header?.readerParameters[parameter: "path"] == "task")
        #expect(perf.chunks.allSatisfy { $0.requested == 8192 })
        #expect(perfReport.validation == nil)

        let (sanitizer, _) = try record("sanitizer", in: directory)
        // Each result: 4096, 8192, ... until one reaches end of file.
        var size: UInt64 = 4096
        for end in sanitizer.snapshotEnds {
            let chunks = sanitizer.chunks.filter { $0.snapshot == end.index }
            #expect(chunks.first?.requested == size)
            #expect(chunks.reduce(0) { $0 + UInt64(max($1.returned, 0)) } <= size)
            size = end.flags.contains(.accepted) ? 4096 : size * 2
        }
        #expect(sanitizer.snapshotEnds.filter { $0.flags.contains(.accepted) }.count == 3)
    }
}
