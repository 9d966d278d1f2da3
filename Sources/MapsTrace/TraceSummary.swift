#if canImport(Glibc)
import Glibc
#endif

/// What one streaming pass over a trace tells without replaying it: the
/// header, the arena, how many records of each kind, the time span, and how
/// the trace ended.
public struct TraceSummary: Sendable, Equatable {
    public var header: TraceHeader?
    public var arena: ArenaRecord?
    public var trailer: TraceTrailer?
    public var mutations = 0
    public var snapshotBegins = 0
    public var snapshotEnds = 0
    public var readChunks = 0
    public var quiescentMaps = 0
    /// Reader pauses (the `frozen` reader stops its target once a snapshot).
    public var pauses = 0
    /// Records of unknown kinds >= 0x40 that were skipped.
    public var unknownRecords = 0
    /// Sum of the bytes the read chunks returned.
    public var bytesRead: UInt64 = 0
    /// Earliest and latest timestamp of any record (absolute CLOCK_MONOTONIC ns).
    public var firstTimestampNs: UInt64?
    public var lastTimestampNs: UInt64?
    public var completion: TraceCompletion = .missingTrailer
    public var blocks = 0
    public var records = 0
    /// The size of the trace file (bytes consumed, for in-memory traces).
    public var compressedBytes: UInt64 = 0
    public var rawBytes: UInt64 = 0
    /// Version 2, `record -- CMD`: the processes the tracer followed, and
    /// counts of its other records.
    public var processes: [TracedProcess] = []
    public var execs = 0
    public var forks = 0
    public var tracedSyscalls = 0
    public var fileIdentities = 0
    public var snapshotSources = 0
    /// Quiescent maps texts of traced address spaces (record 0x40).
    public var addressSpaceMaps = 0
    /// shmat segments (record 0x48) and anonymous names (record 0x49).
    public var sharedMemoryAttaches = 0
    public var anonymousNames = 0
    /// PROCMAP_QUERY ioctls copied by the tracer (record 0x44), and those of
    /// them that belong to a walk snapshot.
    public var procmapQueries = 0
    public var procmapQueriesInWalks = 0

    public init() {}

    /// Snapshots seen (begun; a truncated trace may lack the last end).
    public var snapshots: Int { snapshotBegins }
    public var durationNs: UInt64? {
        guard let first = firstTimestampNs, let last = lastTimestampNs else { return nil }
        return last - first
    }
    public var interrupted: Bool { trailer?.interrupted ?? false }
    /// The mutator's main loop, from the trailer.
    public var mutatorLoopNs: UInt64? {
        trailer.map { $0.mutatorLoopEnd >= $0.mutatorLoopBegin ? $0.mutatorLoopEnd - $0.mutatorLoopBegin : 0 }
    }
    public var isComplete: Bool { completion == .complete }
    public var truncation: TraceTruncation? {
        if case .truncated(let cut) = completion { cut } else { nil }
    }

    /// Reads the trace at `path` once. A truncated trace is summarised as far
    /// as it goes (see `completion`); any other damage throws.
    public static func read(path: String, limits: TraceLimits = .standard) throws(TraceError) -> TraceSummary {
        var summary = try summarize(try TraceReader(path: path, limits: limits))
        var status = stat()
        if stat(path, &status) == 0 { summary.compressedBytes = UInt64(status.st_size) }
        return summary
    }

    /// Walks the records as borrowed views: nothing is allocated per record,
    /// and read chunk and quiescent maps bytes are never copied.
    public static func summarize(_ reader: TraceReader) throws(TraceError) -> TraceSummary {
        var summary = TraceSummary()
        while let view = try reader.nextView() {
            switch view {
            case .header:
                summary.header = reader.header
            case .arena(let arena):
                summary.arena = arena
            case .mutation(let mutation):
                summary.mutations += 1
                summary.observe(mutation.tBegin, mutation.tEnd)
            case .snapshotBegin(let begin):
                summary.snapshotBegins += 1
                summary.observe(begin.tBegin, begin.tBegin)
            case .snapshotEnd(let end):
                summary.snapshotEnds += 1
                summary.observe(end.tEnd, end.tEnd)
            case .readChunk(let chunk):
                summary.countReadChunk(returned: chunk.returned, chunk.tBegin, chunk.tEnd)
            case .quiescentFragment(let fragment):
                if fragment.completesText {
                    summary.quiescentMaps += 1
                    summary.observe(fragment.tBegin, fragment.tEnd)
                }
            case .pause(let pause):
                summary.pauses += 1
                summary.observe(pause.tRequested, pause.tResumed)
            case .trailer(let trailer):
                summary.trailer = trailer
                summary.observe(trailer.mutatorLoopBegin, trailer.mutatorLoopEnd)
            case .traced(let traced):
                switch traced {
                case .process(let process): summary.processes.append(process)
                case .exec: summary.execs += 1
                case .fork: summary.forks += 1
                case .syscall(let call):
                    summary.tracedSyscalls += 1
                    summary.observe(call.tBegin, call.tEnd)
                case .fileIdentity: summary.fileIdentities += 1
                case .snapshotSource: summary.snapshotSources += 1
                case .addressSpaceMaps: summary.addressSpaceMaps += 1
                case .sharedMemoryAttach: summary.sharedMemoryAttaches += 1
                case .anonymousName: summary.anonymousNames += 1
                case .procmapQuery(let query):
                    summary.procmapQueries += 1
                    if query.snapshot >= 0 { summary.procmapQueriesInWalks += 1 }
                }
            }
        }
        summary.completion = reader.completion
        summary.blocks = reader.blocksRead
        summary.records = reader.recordsRead
        summary.unknownRecords = reader.unknownRecordsSkipped
        summary.compressedBytes = reader.compressedBytesRead
        summary.rawBytes = reader.rawBytesRead
        return summary
    }

    private mutating func countReadChunk(returned: Int64, _ tBegin: UInt64, _ tEnd: UInt64) {
        readChunks += 1
        if returned > 0 {
            // Saturates rather than traps, whatever a trace claims.
            let (sum, overflow) = bytesRead.addingReportingOverflow(UInt64(returned))
            bytesRead = overflow ? .max : sum
        }
        observe(tBegin, tEnd)
    }

    @inline(__always) private mutating func observe(_ tBegin: UInt64, _ tEnd: UInt64) {
        let low = min(tBegin, tEnd), high = max(tBegin, tEnd)
        firstTimestampNs = min(firstTimestampNs ?? low, low)
        lastTimestampNs = max(lastTimestampNs ?? high, high)
    }
}
