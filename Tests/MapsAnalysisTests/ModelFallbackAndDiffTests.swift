import Foundation
import MapsAnalysis
import MapsModel
import MapsTestSupport
import Testing

private let arena: [Int32] = [readWrite, none, readOnly, none, readOnly, none]

@Suite("Model check fallback and snapshot diff")
struct ModelFallbackAndDiffTests {
    /// When the final quiescent maps disagrees with the replay, the model is
    /// not validated and lines are judged page by page.
    @Test func anUnreproducedFinalMapsFallsBackToPageLevel() throws {
        var trace = PlantedTrace(initial: arena)
        trace.mutations = [(2, readWrite, 100), (0, none, 200)]
        // The kernel did not merge pages 0 and 1 after the second mutation
        // (as if page 0 had been touched): the real maps keeps two lines.
        let unmerged = [PlantedTrace.before, PlantedTrace.line(from: 0, to: 1, prot: none),
                        PlantedTrace.line(from: 1, to: 2, prot: none)]
            + Array(trace.arenaLines(at: 2).dropFirst()) + [PlantedTrace.after]
        trace.finalMaps = unmerged
        trace.snapshots = [[.init(at: 1000, lines: unmerged)]]
        let report = try trace.analyze()
        #expect(!report.modelValidated)
        #expect(report.model.match == "page_level")
        #expect(report.model.finalMismatches == 3)  // one modeled line against two real ones
        // Page by page the snapshot is what state 2 had: consistent.
        #expect(report.snapshots[0].anomalies.isEmpty)
        #expect(report.snapshots[0].consistent)
    }

    @Test func diffMarksReadBoundariesAndTagsEpochs() throws {
        var trace = PlantedTrace(initial: arena)
        trace.mutations = [(2, readWrite, 100), (0, none, 200), (4, readWrite, 250)]
        let firstRead = [PlantedTrace.before, PlantedTrace.line(from: 0, to: 1, prot: readWrite),
                         PlantedTrace.line(from: 1, to: 2, prot: none)]
        let secondRead = [PlantedTrace.line(from: 2, to: 3, prot: readWrite), PlantedTrace.line(from: 3, to: 4, prot: none),
                          PlantedTrace.line(from: 4, to: 5, prot: readWrite), PlantedTrace.line(from: 5, to: 6, prot: none),
                          PlantedTrace.after]
        trace.snapshots = [[.init(at: 50, lines: firstRead), .init(at: 300, lines: secondRead)]]
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let analysis = try TraceAnalysis(.file(path))
        var verdict: SnapshotVerdict?
        _ = try analysis.run(only: 0) { verdict = $0 }
        let diff = SnapshotDiff.render(
            verdict: try #require(verdict), reconstructed: analysis.maps(at: 0), stateLabel: "state 0",
            origin: PlantedTrace.origin, context: 1)
        let lines = diff.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // At state 0 pages 2 and 4 were read-only; the snapshot shows them
        // read-write, from read 1, in the second epoch.
        let removed = try #require(lines.firstIndex(of: "-" + PlantedTrace.line(from: 2, to: 3, prot: readOnly)))
        let added = try #require(lines.firstIndex(of: "+" + PlantedTrace.line(from: 2, to: 3, prot: readWrite) + "    [epoch 1]"))
        #expect(removed < added)
        let marker = try #require(lines.firstIndex { $0.hasPrefix("## read 1: bytes ") })
        #expect(marker < added)
        #expect(lines[marker].contains("bytes \(PlantedTrace.text(firstRead).count)-"))
        #expect(lines.contains { $0.hasPrefix("@@ -") })
        #expect(lines.contains("+" + PlantedTrace.line(from: 4, to: 5, prot: readWrite) + "    [epoch 1]"))
        #expect(lines.filter { $0.hasPrefix("+") && !$0.hasPrefix("+++") }.count == 2)
        #expect(lines.filter { $0.hasPrefix("-") && !$0.hasPrefix("---") }.count == 2)
    }
}
