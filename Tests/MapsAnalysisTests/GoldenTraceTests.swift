import Foundation
import MapsAnalysis
import MapsModel
import MapsTrace
import MapsTestSupport
import Testing

/// The small real recordings committed in traces/ (made on Linux 6.18 with
/// `mapsrace record --pages 4000 --snapshots 4`), each with its expected
/// analysis beside it (regenerate with tools/update-goldens.sh).
private let tracesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces")

private let goldenTraces = [
    "rolling-chromium-4000p-seed2",
    "rolling-pmap-4000p-seed1",
    "rolling-read4096-4000p-seed4",
]

@Suite("Committed sample traces")
struct GoldenTraceTests {
    func path(_ name: String) -> String {
        tracesDirectory.appendingPathComponent(name + ".mrtrace").path
    }

    @Test(arguments: goldenTraces)
    func analysisMatchesItsGoldenResult(_ name: String) throws {
        var report = try TraceAnalysis(.file(path(name))).run()
        report.trace = "traces/\(name).mrtrace"  // as tools/update-goldens.sh names it
        let expected = try String(
            contentsOf: tracesDirectory.appendingPathComponent(name + ".analysis.json"), encoding: .utf8)
        #expect(ReportText.json(report) + "\n" == expected)
    }

    @Test(arguments: goldenTraces)
    func replayReproducesTheFinalQuiescentMaps(_ name: String) throws {
        let analysis = try TraceAnalysis(.file(path(name)))
        let final = try #require(analysis.finalText)
        let arena = analysis.truth.arena
        let observed = final.lines.filter { $0.end > arena.lowerBound && $0.start < arena.upperBound }
        #expect(analysis.truth.arenaLines(at: analysis.truth.finalState) == observed)
        // The whole reconstructed maps equals the final read line for line,
        // outside the arena too (nothing else changed the address space).
        #expect(analysis.maps(at: analysis.truth.finalState) == final.lines)
        #expect(analysis.model.validated)
        // And the model is not trivially true: the arena did change.
        #expect(analysis.truth.arenaLines(at: analysis.truth.baseState) != observed)
    }

    @Test(arguments: goldenTraces)
    func readWriteCountsAgreeWithCountRW(_ name: String) throws {
        let analysis = try TraceAnalysis(.file(path(name)))
        var observed: [Int: UInt64] = [:]
        let report = try analysis.run { verdict in
            observed[verdict.analysis.index] = countReadWritePages(
                in: verdict.text, range: analysis.truth.arena, pageSize: analysis.truth.pageSize)
        }
        #expect(report.snapshots.count == 4)
        for snapshot in report.snapshots {
            #expect(UInt64(snapshot.rwPagesObserved) == observed[snapshot.index])
            // The truth is 1 or 2 read-write pages at every instant of the loop.
            #expect(snapshot.rwPagesTruthMin >= 1 && snapshot.rwPagesTruthMax <= 2)
        }
    }
}
