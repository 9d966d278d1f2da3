import Foundation
import MapsAnalysis
import MapsTestSupport
import Testing

/// docs/analysis-json.md: a key is always present, `null` when it has no value.
@Suite struct AnalysisJSONKeyTests {
    @Test func absentValuesAreNullNotMissing() throws {
        var trace = SmallTrace()
        // Read-only where the arena is read-write: no state explains it.
        trace.reads = [(offset: 0, bytes: Array("7f0000000000-7f0000004000 r--p 00000000 00:00 0 \n".utf8))]
        let report = try TraceAnalysis(.bytes(try trace.bytes())).run()
        let snapshot = try #require(report.snapshots.first)
        #expect(report.pages == nil)
        #expect(snapshot.explainingState == nil)
        #expect(snapshot.pauseNs == nil)

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report))
        let object = try #require(json as? [String: Any])
        #expect(object["pages"] is NSNull)
        let snapshots = try #require(object["snapshots"] as? [[String: Any]])
        #expect(snapshots.first?["explaining_state"] is NSNull)
        #expect(snapshots.first?["pause_ns"] is NSNull)
        // And the report reads back as it was.
        #expect(try JSONDecoder().decode(AnalysisReport.self, from: JSONEncoder().encode(report)) == report)
    }
}
