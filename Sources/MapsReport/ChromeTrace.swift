import MapsAnalysis
import MapsModel
import MapsTrace

/// A trace as Chrome trace-event JSON (`{"traceEvents": [...], "displayTimeUnit": "ns"}`),
/// the format Perfetto (ui.perfetto.dev) and chrome://tracing open.
///
/// Tracks (synthetic pid/tid, named by `M` events; the real pids are in the
/// process names):
/// - process 1 "mutator": thread 1 "mutations", one `X` event per mutation;
///   the counter "rw pages (truth)".
/// - process 2 "reader": thread 2 "reads", one `X` event per read chunk;
///   thread 3 "snapshots", one enclosing `X` event per snapshot; thread 4
///   "anomalies", one instant event (`i`) per anomaly at its boundary; the
///   counter "rw pages (seen)".
///
/// Times are microseconds from the trace's start (its origin), with three
/// decimals, so nanoseconds survive exactly. Events of one track never
/// overlap at all: an event that would (a forged or multi-threaded trace)
/// goes to an extra track of the same process ("mutations #2", ...), so
/// Perfetto never sees a partial overlap.
public struct ChromeTraceExport {
    public static let mutatorPID = 1
    public static let readerPID = 2
    public static let mutationsTID = 1
    public static let readsTID = 2
    public static let snapshotsTID = 3
    public static let anomaliesTID = 4
    /// Extra tracks for events that would overlap on their own track start here.
    static let overflowTIDBase = 100

    /// Counts of what was written, for the caller's summary.
    public struct Counts: Sendable, Equatable {
        public var mutations = 0
        public var reads = 0
        public var snapshots = 0
        public var anomalies = 0
        public var counterSamples = 0
        public var events = 0
    }

    /// The JSON text and what it holds.
    public var bytes: [UInt8]
    public var counts: Counts

    /// Exports the analysed trace. `progress` hears each analysed snapshot.
    public init(analysis: TraceAnalysis, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws(AnalysisError) {
        let context = analysis.context
        let origin = context.header.originNs
        var writer = EventWriter(origin: origin)
        var counts = Counts()

        // Metadata: names and order of processes and tracks.
        writer.metadata("process_name", pid: Self.mutatorPID, tid: 0, name: "mutator (pid \(context.header.mutatorPID), workload \(context.header.workload))")
        writer.metadata("process_name", pid: Self.readerPID, tid: 0, name: "reader (pid \(context.header.readerPID), \(context.header.reader))")
        writer.sortIndex(pid: Self.mutatorPID, tid: nil, index: 1)
        writer.sortIndex(pid: Self.readerPID, tid: nil, index: 2)
        var mutationLanes = Lanes(pid: Self.mutatorPID, baseTID: Self.mutationsTID, name: "mutations")
        var readLanes = Lanes(pid: Self.readerPID, baseTID: Self.readsTID, name: "reads")
        var snapshotLanes = Lanes(pid: Self.readerPID, baseTID: Self.snapshotsTID, name: "snapshots")

        // Mutations in time order (the mutator's own order; sorted in case a
        // trace breaks it).
        let mutations = context.mutations
        var order = Array(mutations.indices)
        if !zip(mutations, mutations.dropFirst()).allSatisfy({ $0.tBegin <= $1.tBegin }) {
            order.sort { mutations[$0].tBegin < mutations[$1].tBegin }
        }
        for index in order {
            let mutation = mutations[index]
            let tid = mutationLanes.place(begin: mutation.tBegin, end: mutation.tEnd)
            writer.complete(
                name: mutation.kind.description, category: "mutation", pid: Self.mutatorPID, tid: tid,
                begin: mutation.tBegin, end: mutation.tEnd,
                args: [
                    ("sequence", .integer(Int64(bitPattern: mutation.sequence))),
                    ("kind", .string(mutation.kind.description)),
                    ("address", .string(addressString(mutation.address))),
                    ("length", .integer(Int64(bitPattern: mutation.length))),
                    ("protection", .string(Permissions(prot: mutation.prot).description)),
                    ("result", .integer(mutation.result)),
                    ("errno", .integer(Int64(mutation.errno))),
                ])
            counts.mutations += 1
        }

        // The truth's read-write page count, at every change.
        let truth = analysis.truth
        func readWrite(at state: Int) -> Int { truth.readWritePageRange(over: state...state).lowerBound }
        var truthSamples: [(time: UInt64, value: Int)] = [(context.initialMaps.tBegin, readWrite(at: truth.baseState))]
        if truth.finalState > truth.baseState {
            var last = truthSamples[0].value
            for state in (truth.baseState + 1)...truth.finalState where state - 1 < mutations.count {
                let value = readWrite(at: state)
                if value != last {
                    truthSamples.append((mutations[state - 1].tEnd, value))
                    last = value
                }
            }
        }
        truthSamples.sort { $0.time < $1.time }

        // Snapshots: their reads, the snapshot itself, anomalies, what it saw.
        let total = context.snapshotIndexes.count
        var seen = 0
        var instants: [(time: UInt64, json: [UInt8])] = []
        var seenSamples: [(time: UInt64, value: Int)] = []
        var snapshots: [(begin: UInt64, end: UInt64, analysis: SnapshotAnalysis)] = []
        _ = try analysis.run { verdict in
            let snapshot = verdict.snapshot
            let result = verdict.analysis
            for read in snapshot.reads {
                let tid = readLanes.place(begin: read.tBegin, end: read.tEnd)
                writer.complete(
                    name: "read \(read.sequence)", category: "read", pid: Self.readerPID, tid: tid,
                    begin: read.tBegin, end: read.tEnd,
                    args: [
                        ("read", .integer(Int64(read.sequence))),
                        ("offset", .integer(Int64(bitPattern: read.offset))),
                        ("requested", .integer(Int64(bitPattern: read.requested))),
                        ("returned", .integer(read.returned)),
                        ("errno", .integer(Int64(read.errno))),
                        ("snapshot", .integer(Int64(result.index))),
                    ])
                counts.reads += 1
            }
            let begin = snapshot.begin?.tBegin ?? snapshot.reads.first?.tBegin ?? origin
            let end = max(begin, snapshot.end?.tEnd ?? snapshot.reads.last?.tEnd ?? begin)
            snapshots.append((begin, end, result))
            seenSamples.append((begin, result.rwPagesObserved))
            for anomaly in result.anomalies {
                let reads = snapshot.reads
                let after = anomaly.boundary.afterRead
                let time = after < reads.count ? reads[after].tBegin : begin
                var event = EventWriter(origin: origin)
                event.instant(
                    name: anomaly.kind.rawValue, category: "anomaly", pid: Self.readerPID, tid: Self.anomaliesTID,
                    time: time,
                    args: [
                        ("snapshot", .integer(Int64(result.index))),
                        ("before_read", .integer(Int64(anomaly.boundary.beforeRead))),
                        ("after_read", .integer(Int64(anomaly.boundary.afterRead))),
                        ("byte_offset", .integer(Int64(bitPattern: anomaly.boundary.byteOffset))),
                        ("line", .integer(Int64(anomaly.boundary.line))),
                        ("start", .string(anomaly.start)),
                        ("end", .string(anomaly.end)),
                        ("culprits", .string(anomaly.culprits.prefix(16).map(String.init).joined(separator: " ")
                            + (anomaly.culprits.count > 16 ? " … (\(anomaly.culprits.count) in all)" : ""))),
                        ("detail", .string(anomaly.detail)),
                    ])
                instants.append((time, event.bytes))
                counts.anomalies += 1
            }
            seen += 1
            progress(seen, total)
        }
        snapshots.sort { $0.begin < $1.begin }
        for snapshot in snapshots {
            let tid = snapshotLanes.place(begin: snapshot.begin, end: snapshot.end)
            let result = snapshot.analysis
            writer.complete(
                name: "snapshot \(result.index)", category: "snapshot", pid: Self.readerPID, tid: tid,
                begin: snapshot.begin, end: snapshot.end,
                args: [
                    ("snapshot", .integer(Int64(result.index))),
                    ("lines", .integer(Int64(result.lines))),
                    ("reads", .integer(Int64(result.reads))),
                    ("epochs", .integer(Int64(result.epochs))),
                    ("consistent", .bool(result.consistent)),
                    ("verdict", .string(SnapshotWords.verdict(result))),
                    ("rw_seen", .integer(Int64(result.rwPagesObserved))),
                    ("rw_truth", .string(SnapshotWords.truthRange(result))),
                ])
            counts.snapshots += 1
        }
        instants.sort { $0.time < $1.time }
        for instant in instants { writer.append(raw: instant.json) }
        for sample in truthSamples {
            writer.counter(name: "rw pages (truth)", pid: Self.mutatorPID, time: sample.time, series: "truth", value: sample.value)
        }
        seenSamples.sort { $0.time < $1.time }
        for sample in seenSamples {
            writer.counter(name: "rw pages (seen)", pid: Self.readerPID, time: sample.time, series: "seen", value: sample.value)
        }
        counts.counterSamples = truthSamples.count + seenSamples.count
        for lanes in [mutationLanes, readLanes, snapshotLanes] {
            for (offset, tid) in lanes.tids.enumerated() {
                writer.metadata("thread_name", pid: lanes.pid, tid: tid, name: offset == 0 ? lanes.name : "\(lanes.name) #\(offset + 1)")
                writer.sortIndex(pid: lanes.pid, tid: tid, index: tid)
            }
        }
        writer.metadata("thread_name", pid: Self.readerPID, tid: Self.anomaliesTID, name: "anomalies")
        writer.sortIndex(pid: Self.readerPID, tid: Self.anomaliesTID, index: Self.anomaliesTID)
        counts.events = writer.count
        bytes = writer.finish(otherData: [
            ("trace", .string(context.source.name)),
            ("kernel_release", .string(context.header.kernelRelease)),
            ("workload", .string(context.header.workload)),
            ("reader", .string(context.header.reader)),
            ("seed", .integer(Int64(bitPattern: context.header.seed))),
            ("time_origin", .string("ts is microseconds after the trace's origin (CLOCK_MONOTONIC \(origin) ns)")),
        ])
        self.counts = counts
    }
}

/// Places events on one track, or on an extra one when they would overlap.
struct Lanes {
    let pid: Int
    let baseTID: Int
    let name: String
    /// The end of the last event of each track, in track order.
    private(set) var ends: [UInt64] = []
    private(set) var tids: [Int] = []

    init(pid: Int, baseTID: Int, name: String) {
        self.pid = pid
        self.baseTID = baseTID
        self.name = name
        tids = [baseTID]
        ends = [0]
    }

    /// The track for an event from `begin` to `end`; events must come in
    /// order of `begin`.
    mutating func place(begin: UInt64, end: UInt64) -> Int {
        let end = max(begin, end)
        for lane in ends.indices where ends[lane] <= begin {
            ends[lane] = end
            return tids[lane]
        }
        let tid = ChromeTraceExport.overflowTIDBase * (ends.count) + baseTID
        tids.append(tid)
        ends.append(end)
        return tid
    }
}

/// A JSON value of an event's args.
enum ArgValue {
    case integer(Int64)
    case string(String)
    case bool(Bool)
}

/// Writes trace events as JSON text, straight into bytes.
struct EventWriter {
    let origin: UInt64
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    init(origin: UInt64) {
        self.origin = origin
        bytes.reserveCapacity(1 << 16)
    }

    mutating func append(raw: [UInt8]) {
        separator()
        bytes.append(contentsOf: raw)
        count += 1
    }

    private mutating func separator() {
        if count > 0 { bytes.append(contentsOf: ",\n".utf8) }
    }

    private mutating func text(_ string: String) { bytes.append(contentsOf: string.utf8) }

    /// Microseconds after the origin with three decimals: exact nanoseconds.
    private mutating func microseconds(_ time: UInt64) {
        let nanoseconds = Int64(bitPattern: time &- origin)
        if nanoseconds < 0 { text("-") }
        let magnitude = nanoseconds.magnitude
        text(String(magnitude / 1000))
        let fraction = magnitude % 1000
        text(fraction < 10 ? ".00" : fraction < 100 ? ".0" : ".")
        text(String(fraction))
    }

    private mutating func duration(_ nanoseconds: UInt64) {
        text(String(nanoseconds / 1000))
        let fraction = nanoseconds % 1000
        text(fraction < 10 ? ".00" : fraction < 100 ? ".0" : ".")
        text(String(fraction))
    }

    mutating func string(_ value: String) { text(JSONOutput.quoted(value)) }

    private mutating func args(_ args: [(String, ArgValue)]) {
        text("{")
        for (index, (key, value)) in args.enumerated() {
            if index > 0 { text(",") }
            string(key)
            text(":")
            switch value {
            case .integer(let number): text(String(number))
            case .string(let words): string(words)
            case .bool(let flag): text(flag ? "true" : "false")
            }
        }
        text("}")
    }

    private mutating func head(name: String, category: String?, phase: String, pid: Int, tid: Int?) {
        separator()
        count += 1
        text("{\"name\":")
        string(name)
        if let category { text(",\"cat\":"); string(category) }
        text(",\"ph\":\"\(phase)\",\"pid\":\(pid)")
        if let tid { text(",\"tid\":\(tid)") }
    }

    mutating func metadata(_ kind: String, pid: Int, tid: Int, name: String) {
        head(name: kind, category: nil, phase: "M", pid: pid, tid: tid)
        text(",\"args\":")
        args([("name", .string(name))])
        text("}")
    }

    mutating func sortIndex(pid: Int, tid: Int?, index: Int) {
        head(name: tid == nil ? "process_sort_index" : "thread_sort_index", category: nil, phase: "M", pid: pid, tid: tid ?? 0)
        text(",\"args\":{\"sort_index\":\(index)}}")
    }

    mutating func complete(
        name: String, category: String, pid: Int, tid: Int, begin: UInt64, end: UInt64, args values: [(String, ArgValue)]
    ) {
        head(name: name, category: category, phase: "X", pid: pid, tid: tid)
        text(",\"ts\":")
        microseconds(begin)
        text(",\"dur\":")
        duration(end >= begin ? end - begin : 0)
        text(",\"args\":")
        args(values)
        text("}")
    }

    mutating func instant(name: String, category: String, pid: Int, tid: Int, time: UInt64, args values: [(String, ArgValue)]) {
        head(name: name, category: category, phase: "i", pid: pid, tid: tid)
        text(",\"s\":\"t\",\"ts\":")
        microseconds(time)
        text(",\"args\":")
        args(values)
        text("}")
    }

    mutating func counter(name: String, pid: Int, time: UInt64, series: String, value: Int) {
        head(name: name, category: "rw_pages", phase: "C", pid: pid, tid: nil)
        text(",\"ts\":")
        microseconds(time)
        text(",\"args\":")
        args([(series, .integer(Int64(value)))])
        text("}")
    }

    /// The whole document.
    func finish(otherData: [(String, ArgValue)]) -> [UInt8] {
        var document = EventWriter(origin: origin)
        document.text("{\"displayTimeUnit\":\"ns\",\"otherData\":")
        document.args(otherData)
        document.text(",\"traceEvents\":[\n")
        document.bytes.append(contentsOf: bytes)
        document.text("\n]}\n")
        return document.bytes
    }
}
