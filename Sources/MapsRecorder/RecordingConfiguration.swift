import MapsSystem
import MapsTrace

/// What `record` runs: the workload, the reader and where the trace goes.
public struct RecordingConfiguration: Sendable, Equatable {
    /// The seed experiment's arena size: just under this machine kind's
    /// vm.max_map_count of 65530. (Each workload has its own default:
    /// `Workload.defaultPageCount`.)
    public static let defaultPageCount = 65000
    public static let defaultSnapshotCount = 20

    public var workload: Workload
    /// Pages in the arena (the guard pages around it not counted).
    public var pageCount: Int
    /// Map the arena with MAP_NORESERVE (the seed did).
    public var noReserve: Bool
    public var seed: UInt64
    public var reader: ReaderStrategy
    public var snapshotCount: Int
    /// Where the trace goes; ignored when `logMutations` is false.
    public var outputPath: String
    /// false = `--no-log`: the same experiment without the mutator's
    /// timestamps and log stores, and no trace.
    public var logMutations: Bool
    /// The executable that runs the reader (`<executable> _reader ...`).
    /// `/proc/self/exe` when the recorder runs inside `mapsrace`.
    public var readerExecutable: String
    /// Written into the trace header.
    public var toolVersion: String
    /// For tests (record's hidden --test-reader-buffer-bytes): the reader's
    /// byte buffer in bytes, all of it faulted in, instead of the planned size,
    /// so that a test can fill it.
    public var testReaderBufferBytes: Int?
    /// For tests (record's hidden --test-reader-delay-ms): milliseconds the
    /// reader waits between telling the recorder it is ready and its first
    /// snapshot, so that a test gets snapshots no mutation overlaps.
    public var testReaderDelayMilliseconds = 0
    /// `record --workload W -- CMD {pid}`: the reader is this external
    /// command, run under the tracer once per snapshot with `{pid}` replaced
    /// by the workload's pid (`<executable> _traced-reader ... -- CMD`);
    /// nil for a built-in reader.
    public var externalReader: [String]? = nil

    /// The reader's name in the trace: the strategy's, or "external".
    var readerName: String { externalReader == nil ? reader.description : "external" }

    public init(
        workload: Workload = .rolling,
        pageCount: Int? = nil,
        noReserve: Bool = true,
        seed: UInt64,
        reader: ReaderStrategy = .chromium,
        snapshotCount: Int = defaultSnapshotCount,
        outputPath: String? = nil,
        logMutations: Bool = true,
        readerExecutable: String = "/proc/self/exe",
        toolVersion: String
    ) {
        self.workload = workload
        self.pageCount = pageCount ?? workload.defaultPageCount
        self.noReserve = noReserve
        self.seed = seed
        self.reader = reader
        self.snapshotCount = snapshotCount
        self.outputPath = outputPath ?? Self.defaultOutputPath(workload: workload, reader: reader, seed: seed)
        self.logMutations = logMutations
        self.readerExecutable = readerExecutable
        self.toolVersion = toolVersion
    }

    /// `rolling-chromium-seed42.mrtrace`, `rolling-read4096-seed7.mrtrace`:
    /// workload, reader and seed, in the current directory.
    public static func defaultOutputPath(workload: Workload, reader: ReaderStrategy, seed: UInt64) -> String {
        "\(workload.rawValue)-\(reader.fileNameComponent)-seed\(seed).mrtrace"
    }

    /// A fresh random seed (getrandom(2) through the system generator).
    public static func randomSeed() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }

    /// The bounds every recording keeps to (`record` checks them first; the
    /// CLI calls this from its own validation so that both say the same).
    /// `invalidConfiguration` (exit 64) naming the option otherwise.
    public func validate() throws(RecordingError) {
        guard pageCount >= workload.minimumPageCount else {
            throw .invalidConfiguration(
                "--pages must be at least \(workload.minimumPageCount) for \(workload) (got \(pageCount))")
        }
        guard pageCount <= Int(UInt32.max) else {
            throw .invalidConfiguration("--pages must be below \(UInt32.max) (got \(pageCount))")
        }
        guard snapshotCount >= 1 && snapshotCount <= 100_000 else {
            throw .invalidConfiguration("--snapshots must be between 1 and 100000 (got \(snapshotCount))")
        }
        if let problem = ReaderProcessConfiguration.snapshotTableProblem(snapshots: snapshotCount, strategy: reader) {
            throw .invalidConfiguration(problem)
        }
    }
}

/// What a recording did: the summary `record` prints, and its `--json` form
/// (keys documented in docs/record-json.md).
public struct RecordingSummary: Sendable, Equatable, Codable {
    /// The trace path, nil with `--no-log`.
    public var trace: String?
    /// Size of the trace file in bytes, nil with `--no-log`.
    public var traceBytes: UInt64?
    public var kernelRelease: String
    public var workload: String
    public var pages: Int
    public var pageSize: Int
    public var seed: UInt64
    public var reader: String
    public var logMutations: Bool
    /// Mutations issued, setup ones included.
    public var mutations: UInt64
    public var snapshots: UInt64
    /// read(2) calls the reader made, over all snapshots.
    public var reads: UInt64
    public var bytesRead: UInt64
    /// Wall time of the workload's loop alone (setup excluded), CLOCK_MONOTONIC.
    public var mutatorLoopNs: UInt64
    public var interrupted: Bool
    /// The signal that interrupted the recording, 0 if none.
    public var signal: Int32
    /// Snapshots that ended because the reader's buffers were full (the
    /// reader stops after the first, so 0 or 1): the recording has fewer
    /// snapshots than asked for, and `record` warns.
    public var bufferFullSnapshots: UInt64
    /// Size of the reader's byte buffer (`ReaderStrategy.bufferPlan`).
    public var readerBufferBytes: UInt64
    /// Partial traces of recordings to the same path that had died, removed
    /// before this one started (not in the JSON: `record` reports them on stderr).
    public var stalePartialsRemoved: [String] = []
    /// The trace went to this process's standard output (`-o /dev/stdout`):
    /// the summary must go elsewhere.
    public var traceOnStandardOutput = false

    enum CodingKeys: String, CodingKey {
        case trace, traceBytes = "trace_bytes", kernelRelease = "kernel_release", workload, pages
        case pageSize = "page_size", seed, reader, logMutations = "log_mutations", mutations
        case snapshots, reads, bytesRead = "bytes_read", mutatorLoopNs = "mutator_loop_ns"
        case interrupted, signal
        case bufferFullSnapshots = "buffer_full_snapshots", readerBufferBytes = "reader_buffer_bytes"
    }

    public init(
        trace: String?, traceBytes: UInt64?, kernelRelease: String, workload: String, pages: Int,
        pageSize: Int, seed: UInt64, reader: String, logMutations: Bool, mutations: UInt64,
        snapshots: UInt64, reads: UInt64, bytesRead: UInt64, mutatorLoopNs: UInt64,
        interrupted: Bool, signal: Int32, bufferFullSnapshots: UInt64 = 0, readerBufferBytes: UInt64 = 0
    ) {
        self.trace = trace
        self.traceBytes = traceBytes
        self.kernelRelease = kernelRelease
        self.workload = workload
        self.pages = pages
        self.pageSize = pageSize
        self.seed = seed
        self.reader = reader
        self.logMutations = logMutations
        self.mutations = mutations
        self.snapshots = snapshots
        self.reads = reads
        self.bytesRead = bytesRead
        self.mutatorLoopNs = mutatorLoopNs
        self.interrupted = interrupted
        self.signal = signal
        self.bufferFullSnapshots = bufferFullSnapshots
        self.readerBufferBytes = readerBufferBytes
    }

    /// Encodes every key, `trace` and `trace_bytes` as null when absent.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(trace, forKey: .trace)
        try container.encode(traceBytes, forKey: .traceBytes)
        try container.encode(kernelRelease, forKey: .kernelRelease)
        try container.encode(workload, forKey: .workload)
        try container.encode(pages, forKey: .pages)
        try container.encode(pageSize, forKey: .pageSize)
        try container.encode(seed, forKey: .seed)
        try container.encode(reader, forKey: .reader)
        try container.encode(logMutations, forKey: .logMutations)
        try container.encode(mutations, forKey: .mutations)
        try container.encode(snapshots, forKey: .snapshots)
        try container.encode(reads, forKey: .reads)
        try container.encode(bytesRead, forKey: .bytesRead)
        try container.encode(mutatorLoopNs, forKey: .mutatorLoopNs)
        try container.encode(interrupted, forKey: .interrupted)
        try container.encode(signal, forKey: .signal)
        try container.encode(bufferFullSnapshots, forKey: .bufferFullSnapshots)
        try container.encode(readerBufferBytes, forKey: .readerBufferBytes)
    }

}

extension RecordingSummary {
    /// The summary as one JSON object, keys in the documented order
    /// (docs/record-json.md), without needing Foundation.
    public var jsonText: String {
        let quoted = JSONOutput.quoted
        let fields: [(CodingKeys, String)] = [
            (.trace, trace.map(quoted) ?? "null"),
            (.traceBytes, traceBytes.map { "\($0)" } ?? "null"),
            (.kernelRelease, quoted(kernelRelease)),
            (.workload, quoted(workload)),
            (.pages, "\(pages)"),
            (.pageSize, "\(pageSize)"),
            (.seed, "\(seed)"),
            (.reader, quoted(reader)),
            (.logMutations, "\(logMutations)"),
            (.mutations, "\(mutations)"),
            (.snapshots, "\(snapshots)"),
            (.reads, "\(reads)"),
            (.bytesRead, "\(bytesRead)"),
            (.mutatorLoopNs, "\(mutatorLoopNs)"),
            (.interrupted, "\(interrupted)"),
            (.signal, "\(signal)"),
            (.bufferFullSnapshots, "\(bufferFullSnapshots)"),
            (.readerBufferBytes, "\(readerBufferBytes)"),
        ]
        return "{\n" + fields.map { "  \(quoted($0.0.rawValue)): \($0.1)" }.joined(separator: ",\n") + "\n}"
    }
}
