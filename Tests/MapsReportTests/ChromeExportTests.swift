import Foundation
import MapsAnalysis
import MapsTrace
import Testing

@testable import MapsReport

/// The committed sample traces (traces/, recorded on Linux 6.18).
let tracesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces")

func samplePath(_ name: String) -> String {
    tracesDirectory.appendingPathComponent(name + ".mrtrace").path
}

let sampleTraces = ["rolling-chromium-4000p-seed2", "rolling-pmap-4000p-seed1"]

/// What the trace file itself holds, read record by record (not through
/// the analysis the export uses).
struct RawCounts {
    var origin: UInt64 = 0
    var mutations: [MutationRecord] = []
    /// (snapshot, sequence, tBegin, tEnd) per read chunk.
    var reads: [(snapshot: UInt32, sequence: UInt32, tBegin: UInt64, tEnd: UInt64)] = []

    init(path: String) throws {
        let reader = try TraceReader(path: path)
        while let record = try reader.next() {
            switch record {
            case .header(let header): origin = header.originNs
            case .mutation(let mutation): mutations.append(mutation)
            case .readChunk(let chunk): reads.append((chunk.snapshot, chunk.sequence, chunk.tBegin, chunk.tEnd))
            default: break
            }
        }
    }
}

/// One parsed trace event.
struct ParsedEvent {
    var phase: String
    var category: String?
    var name: String
    var pid: Int
    var tid: Int?
    var ts: Double?
    var dur: Double?
    var args: [String: Any]
}

func parseChromeJSON(_ bytes: [UInt8]) throws -> (document: [String: Any], events: [ParsedEvent]) {
    let object = try JSONSerialization.jsonObject(with: Data(bytes))
    let document = try #require(object as? [String: Any])
    let list = try #require(document["traceEvents"] as? [[String: Any]])
    let events = try list.map { event in
        ParsedEvent(
            phase: try #require(event["ph"] as? String), category: event["cat"] as? String,
            name: try #require(event["name"] as? String), pid: try #require(event["pid"] as? Int),
            tid: event["tid"] as? Int, ts: (event["ts"] as? NSNumber)?.doubleValue,
            dur: (event["dur"] as? NSNumber)?.doubleValue, args: event["args"] as? [String: Any] ?? [:])
    }
    return (document, events)
}

@Suite("mapsrace export: Chrome trace-event JSON")
struct ChromeExportTests {
    @Test(arguments: sampleTraces)
    func everyReadAndMutationIsOneCompleteEvent(_ name: String) throws {
        let path = samplePath(name)
        let raw = try RawCounts(path: path)
        let export = try ChromeTraceExport(analysis: TraceAnalysis(.file(path)))
        let (document, events) = try parseChromeJSON(export.bytes)
        #expect(document["displayTimeUnit"] as? String == "ns")

        let reads = events.filter { $0.phase == "X" && $0.category == "read" }
        let mutations = events.filter { $0.phase == "X" && $0.category == "mutation" }
        #expect(reads.count == raw.reads.count)
        #expect(mutations.count == raw.mutations.count)
        #expect(raw.reads.count > 100 && raw.mutations.count > 1000)  // the sample is not trivial

        // Each read event is its chunk: number, snapshot and time, exactly (µs with 3 decimals).
        let byKey = Dictionary(uniqueKeysWithValues: reads.map { event in
            ("\(event.args["snapshot"] as? Int ?? -1)/\(event.args["read"] as? Int ?? -1)", event)
        })
        for chunk in raw.reads {
            let event = try #require(byKey["\(chunk.snapshot)/\(chunk.sequence)"])
            let expectedTs = Double(Int64(chunk.tBegin) - Int64(raw.origin)) / 1000
            #expect(abs((event.ts ?? -1) - expectedTs) < 0.0005)
            #expect(abs((event.dur ?? -1) - Double(chunk.tEnd - chunk.tBegin) / 1000) < 0.0005)
            #expect(event.args["requested"] is Int && event.args["returned"] is Int && event.args["offset"] is Int)
        }
        // Mutations carry their arguments.
        for (event, mutation) in zip(mutations, raw.mutations) {
            #expect(event.args["sequence"] as? Int == Int(mutation.sequence))
            #expect(event.args["kind"] as? String == mutation.kind.description)
            #expect(event.args["length"] as? Int == Int(mutation.length))
            #expect(event.args["protection"] is String && event.args["address"] is String && event.args["result"] is Int)
        }
    }

    @Test(arguments: sampleTraces)
    func tracksAreNamedOrderedAndNeverOverlapPartially(_ name: String) throws {
        let export = try ChromeTraceExport(analysis: TraceAnalysis(.file(samplePath(name))))
        let (_, events) = try parseChromeJSON(export.bytes)
        var tracks: [String: [(begin: Double, end: Double)]] = [:]
        var lastTs: [String: Double] = [:]
        for event in events where event.phase == "X" || event.phase == "i" {
            let key = "\(event.pid)/\(event.tid ?? -1)"
            let ts = try #require(event.ts)
            // Per track, in ts order.
            #expect(ts >= lastTs[key, default: -.infinity], "track \(key) goes back in time at \(ts)")
            lastTs[key] = ts
            if event.phase == "X" { tracks[key, default: []].append((ts, ts + (event.dur ?? 0))) }
        }
        #expect(tracks.count >= 3)
        for (key, spans) in tracks {
            // Nested or disjoint, never partially overlapping.
            var open: [(begin: Double, end: Double)] = []
            for span in spans {
                while let top = open.last, top.end <= span.begin { open.removeLast() }
                if let top = open.last {
                    #expect(span.end <= top.end, "track \(key): \(span) overlaps \(top) partially")
                }
                open.append(span)
            }
        }
        // Every track and process is named.
        let named = Set(events.filter { $0.phase == "M" && $0.name == "thread_name" }.map { "\($0.pid)/\($0.tid ?? -1)" })
        for key in tracks.keys { #expect(named.contains(key), "track \(key) has no name") }
        let processes = events.filter { $0.phase == "M" && $0.name == "process_name" }.compactMap { $0.args["name"] as? String }
        #expect(processes.contains { $0.hasPrefix("mutator") } && processes.contains { $0.hasPrefix("reader") })
    }

    @Test(arguments: sampleTraces)
    func snapshotsAnomaliesAndCountersFollowTheAnalysis(_ name: String) throws {
        let analysis = try TraceAnalysis(.file(samplePath(name)))
        let report = try analysis.run()
        let export = try ChromeTraceExport(analysis: analysis)
        let (_, events) = try parseChromeJSON(export.bytes)
        let snapshots = events.filter { $0.phase == "X" && $0.category == "snapshot" }
        #expect(snapshots.count == report.snapshotCount)
        // A snapshot encloses its reads.
        for snapshot in snapshots {
            let index = try #require(snapshot.args["snapshot"] as? Int)
            let reads = events.filter { $0.category == "read" && $0.args["snapshot"] as? Int == index }
            #expect(reads.count == report.snapshots.first { $0.index == index }?.reads)
            for read in reads {
                #expect(read.ts! >= snapshot.ts! && read.ts! + read.dur! <= snapshot.ts! + snapshot.dur! + 0.0005)
            }
        }
        let anomalies = events.filter { $0.phase == "i" }
        #expect(anomalies.count == report.totals.raceAnomalies)
        for kind in AnomalyKind.allCases {
            #expect(anomalies.filter { $0.name == kind.rawValue }.count == report.totals[kind])
        }
        let seen = events.filter { $0.phase == "C" && $0.name == "rw pages (seen)" }
        #expect(seen.map { $0.args["seen"] as? Int } == report.snapshots.map(\.rwPagesObserved))
        let truth = events.filter { $0.phase == "C" && $0.name == "rw pages (truth)" }.compactMap { $0.args["truth"] as? Int }
        // The rolling workload keeps 1 or 2 pages read-write.
        #expect(truth.count > 100 && Set(truth.dropFirst()) == [1, 2])
    }

    @Test func overlappingEventsGoToAnExtraTrack() {
        var lanes = Lanes(pid: 1, baseTID: 1, name: "mutations")
        #expect(lanes.place(begin: 0, end: 10) == 1)
        #expect(lanes.place(begin: 5, end: 20) == 101)  // would overlap [0, 10] partially
        #expect(lanes.place(begin: 10, end: 12) == 1)  // touching is not overlapping
        #expect(lanes.place(begin: 11, end: 13) == 201)
        #expect(lanes.tids == [1, 101, 201])
    }
}
