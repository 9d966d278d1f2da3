import Foundation
@testable import MapsAnalysis
import MapsTestSupport
import MapsModel
import MapsTrace
import Testing

/// `TraceAnalysis(source, analysingWhileLoading: true)` analyses snapshots
/// while the trace loads, guessing that the model check will pass;
/// `TraceAnalysis(source)` analyses them afterwards, streaming. Both must report the same, whether the guess held
/// or not.
@Suite("Snapshots analysed while the trace loads")
struct EarlyAnalysisTests {
    static let tracesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("traces")

    func bothWays(_ source: TraceSource) throws -> (early: TraceAnalysis, streamed: TraceAnalysis) {
        (try TraceAnalysis(source, analysingWhileLoading: true), try TraceAnalysis(source))
    }

    @Test(arguments: ["rolling-chromium-4000p-seed2", "rolling-pmap-4000p-seed1", "rolling-read4096-4000p-seed4"])
    func theEarlyAnalysisOfARecordingIsTheStreamedOne(_ name: String) throws {
        let source = TraceSource.file(Self.tracesDirectory.appendingPathComponent(name + ".mrtrace").path)
        let (early, streamed) = try bothWays(source)
        #expect(early.earlyAnalyses != nil)  // the guess held: these are validated recordings
        #expect(streamed.earlyAnalyses == nil)
        #expect(ReportText.json(try early.run()) == ReportText.json(try streamed.run()))
    }

    /// A final quiescent maps with a line outside the arena that the
    /// initial one lacks: the early analysis judged that line unmodeled, so
    /// its results are dropped and the snapshots analysed again.
    @Test func aLineOutsideTheArenaOnlyTheFinalMapsKnowsVoidsTheEarlyWork() throws {
        var trace = PlantedTrace(initial: [readWrite, none, readOnly, none])
        trace.mutations = [(2, readWrite, 100)]
        let heap = "555555560000-555555581000 rw-p 00000000 00:00 0                          [heap]"
        let final = [PlantedTrace.before, heap] + trace.arenaLines(at: 1) + [PlantedTrace.after]
        trace.finalMaps = final
        trace.snapshots = [[.init(at: 1000, lines: final)]]
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (early, streamed) = try bothWays(.file(path))
        #expect(early.model.validated)
        #expect(early.earlyAnalyses == nil)
        let report = try early.run()
        #expect(ReportText.json(report) == ReportText.json(try streamed.run()))
        #expect(report.snapshots[0].unmodeledLines.isEmpty)  // the heap line is known from the final maps
        #expect(report.snapshots[0].consistent)
    }
}
