// The typed records of a mapsrace trace, as every stage of the pipeline sees
// them. Their byte encoding is specified in docs/trace-format.md; this file is
// the in-memory side of that contract.
//
// Every timestamp here is an absolute CLOCK_MONOTONIC reading in nanoseconds.
// The encoding stores them relative to `TraceHeader.originNs`; readers hand
// them back absolute, so values from different records compare directly.

/// The version of the trace format this library writes and reads.
public let traceFormatVersion: UInt32 = 2

/// The versions this library reads: 1 (built-in recordings only) and 2
/// (adds the traced records of `record -- CMD`).
public let readableTraceFormatVersions: ClosedRange<UInt32> = 1...2

/// One `key=value` parameter of a workload or a reader strategy, kept in the
/// order the recorder gave them.
public struct TraceParameter: Sendable, Equatable, Hashable, Codable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == TraceParameter {
    /// The value of the first parameter named `key`, if any.
    public subscript(parameter key: String) -> String? {
        first(where: { $0.key == key })?.value
    }
}

/// What the trace is a recording of: the machine, the clock and the experiment.
public struct TraceHeader: Sendable, Equatable {
    public var formatVersion: UInt32
    public var toolVersion: String
    /// `uname -r`, `uname -v` and `uname -m` of the recording machine.
    public var kernelRelease: String
    public var kernelVersion: String
    public var machine: String
    public var pageSize: UInt64
    /// The clock every timestamp was taken with (CLOCK_MONOTONIC = 1) and its
    /// resolution as `clock_getres` reported it.
    public var clockID: Int32
    public var clockResolutionNs: UInt64
    /// Wall-clock time when recording started, ns since the Unix epoch.
    public var startWallClockNs: Int64
    /// CLOCK_MONOTONIC when recording started: time zero of the trace.
    public var originNs: UInt64
    public var mutatorPID: Int32
    public var readerPID: Int32
    public var workload: String
    public var workloadParameters: [TraceParameter]
    public var reader: String
    public var readerParameters: [TraceParameter]
    public var seed: UInt64

    public init(
        formatVersion: UInt32 = traceFormatVersion,
        toolVersion: String,
        kernelRelease: String,
        kernelVersion: String,
        machine: String,
        pageSize: UInt64,
        clockID: Int32,
        clockResolutionNs: UInt64,
        startWallClockNs: Int64,
        originNs: UInt64,
        mutatorPID: Int32,
        readerPID: Int32,
        workload: String,
        workloadParameters: [TraceParameter],
        reader: String,
        readerParameters: [TraceParameter],
        seed: UInt64
    ) {
        self.formatVersion = formatVersion
        self.toolVersion = toolVersion
        self.kernelRelease = kernelRelease
        self.kernelVersion = kernelVersion
        self.machine = machine
        self.pageSize = pageSize
        self.clockID = clockID
        self.clockResolutionNs = clockResolutionNs
        self.startWallClockNs = startWallClockNs
        self.originNs = originNs
        self.mutatorPID = mutatorPID
        self.readerPID = readerPID
        self.workload = workload
        self.workloadParameters = workloadParameters
        self.reader = reader
        self.readerParameters = readerParameters
        self.seed = seed
    }
}

/// The address range `[start, end)` that the workload mutates. Nothing the
/// workload logs touches an address outside it.
public struct ArenaRecord: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64

    public init(start: UInt64, end: UInt64) {
        self.start = start
        self.end = end
    }
}

/// The syscall a mutation made.
public enum MutationKind: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case mprotect = 1
    case mmap = 2
    case munmap = 3
    case mremap = 4

    public var description: String {
        switch self {
        case .mprotect: "mprotect"
        case .mmap: "mmap"
        case .munmap: "munmap"
        case .mremap: "mremap"
        }
    }
}

/// One syscall that changed (or tried to change) the mappings, with the
/// CLOCK_MONOTONIC readings taken right before and right after it.
///
/// Arguments by kind:
/// - mprotect(address, length, prot)
/// - mmap(address, length, prot, flags): `result` is the mapped address
/// - munmap(address, length)
/// - mremap(address, length, newLength, flags, newAddress): `result` is the
///   address the mapping ended up at
public struct MutationRecord: Sendable, Equatable {
    /// Dense from 0 in the order the mutator issued them.
    public var sequence: UInt64
    public var kind: MutationKind
    public var address: UInt64
    public var length: UInt64
    public var prot: Int32
    public var flags: Int32
    public var newAddress: UInt64
    public var newLength: UInt64
    /// The syscall's return value (-1 on failure).
    public var result: Int64
    /// 0 on success, errno on failure.
    public var errno: Int32
    public var tBegin: UInt64
    public var tEnd: UInt64
    public var threadID: Int32

    public init(
        sequence: UInt64, kind: MutationKind, address: UInt64, length: UInt64,
        prot: Int32 = 0, flags: Int32 = 0, newAddress: UInt64 = 0, newLength: UInt64 = 0,
        result: Int64 = 0, errno: Int32 = 0, tBegin: UInt64, tEnd: UInt64, threadID: Int32
    ) {
        self.sequence = sequence
        self.kind = kind
        self.address = address
        self.length = length
        self.prot = prot
        self.flags = flags
        self.newAddress = newAddress
        self.newLength = newLength
        self.result = result
        self.errno = errno
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.threadID = threadID
    }

    public var succeeded: Bool { errno == 0 }
}

/// The start of one snapshot: a fresh open of the maps file, read from
/// offset 0 to end of file.
public struct SnapshotBegin: Sendable, Equatable {
    public var index: UInt32
    public var tBegin: UInt64
    public var strategy: String

    public init(index: UInt32, tBegin: UInt64, strategy: String) {
        self.index = index
        self.tBegin = tBegin
        self.strategy = strategy
    }
}

/// How a snapshot ended.
public struct SnapshotFlags: OptionSet, Sendable, Equatable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The reader got to end of file.
    public static let reachedEOF = SnapshotFlags(rawValue: 1 << 0)
    /// The snapshot began after the mutator's last mutation had returned:
    /// nothing mutated while it was read.
    public static let afterMutatorFinished = SnapshotFlags(rawValue: 1 << 1)
    /// A read failed; `SnapshotEnd.errno` says why.
    public static let failed = SnapshotFlags(rawValue: 1 << 2)
    /// Recording was interrupted while this snapshot was being read.
    public static let interrupted = SnapshotFlags(rawValue: 1 << 3)
    /// The reader's preallocated buffer filled up before end of file.
    public static let bufferFull = SnapshotFlags(rawValue: 1 << 4)
    /// One attempt of a reader that re-reads until two attempts in a row are
    /// byte-identical (`retry-stable`).
    public static let retryAttempt = SnapshotFlags(rawValue: 1 << 5)
    /// The attempt such a reader accepted (identical to the one before it).
    public static let accepted = SnapshotFlags(rawValue: 1 << 6)
    /// The reader's own check of the text rejected this attempt (`crashpad`,
    /// `cpptrace`: a line starts below the previous line's end); it re-read
    /// the file, or gave up when this was its last attempt.
    public static let validationRejected = SnapshotFlags(rawValue: 1 << 7)
    /// The reader gave up on this result: its last attempt was rejected,
    /// its fixed buffer filled (`valgrind`) or its time ran out (`perf`).
    public static let gaveUp = SnapshotFlags(rawValue: 1 << 8)
    /// The reader's skip rule dropped at least one line of this snapshot
    /// (`dynamorio`: a line whose start is not above the previous start).
    public static let linesSkipped = SnapshotFlags(rawValue: 1 << 9)
}

public struct SnapshotEnd: Sendable, Equatable {
    public var index: UInt32
    public var tEnd: UInt64
    public var flags: SnapshotFlags
    public var errno: Int32

    public init(index: UInt32, tEnd: UInt64, flags: SnapshotFlags, errno: Int32 = 0) {
        self.index = index
        self.tEnd = tEnd
        self.flags = flags
        self.errno = errno
    }
}

/// One `read(2)` the reader made (or one query, for query-based readers).
public struct ReadChunk: Sendable, Equatable {
    public var snapshot: UInt32
    /// Dense from 0 within the snapshot.
    public var sequence: UInt32
    /// File offset the read started at.
    public var offset: UInt64
    public var requested: UInt64
    /// Bytes returned, or -1 on failure (see `errno`).
    public var returned: Int64
    public var errno: Int32
    public var tBegin: UInt64
    public var tEnd: UInt64
    /// Exactly the bytes returned (`returned` of them; empty on failure).
    public var bytes: [UInt8]

    public init(
        snapshot: UInt32, sequence: UInt32, offset: UInt64, requested: UInt64,
        returned: Int64, errno: Int32 = 0, tBegin: UInt64, tEnd: UInt64, bytes: [UInt8]
    ) {
        self.snapshot = snapshot
        self.sequence = sequence
        self.offset = offset
        self.requested = requested
        self.returned = returned
        self.errno = errno
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.bytes = bytes
    }
}

/// Which quiescent read a `QuiescentMaps` is.
public enum QuiescentRole: UInt8, Sendable, Equatable, CustomStringConvertible {
    /// Before the workload's main loop: the ground truth replay starts from.
    case initial = 0
    /// After the workload finished: what replay must reproduce.
    case final = 1

    public var description: String {
        switch self {
        case .initial: "initial"
        case .final: "final"
        }
    }
}

/// The whole maps text, read while nothing mutated.
/// (Stored as fragments in the file; readers hand it back whole.)
public struct QuiescentMaps: Sendable, Equatable {
    public var role: QuiescentRole
    public var tBegin: UInt64
    public var tEnd: UInt64
    public var text: [UInt8]

    public init(role: QuiescentRole, tBegin: UInt64, tEnd: UInt64, text: [UInt8]) {
        self.role = role
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.text = text
    }
}

/// How long a reader that stops its target (`frozen`) held it stopped for
/// one snapshot: from asking every thread to stop, to all confirmed
/// stopped, to resumed. Follows the snapshot's end record.
public struct ReaderPause: Sendable, Equatable {
    public var snapshot: UInt32
    /// CLOCK_MONOTONIC right before the first stop request.
    public var tRequested: UInt64
    /// CLOCK_MONOTONIC once every thread of the target was seen stopped.
    public var tStopped: UInt64
    /// CLOCK_MONOTONIC right after the target was resumed.
    public var tResumed: UInt64

    public init(snapshot: UInt32, tRequested: UInt64, tStopped: UInt64, tResumed: UInt64) {
        self.snapshot = snapshot
        self.tRequested = tRequested
        self.tStopped = tStopped
        self.tResumed = tResumed
    }

    /// How long the target could not run, ns.
    public var pauseNs: UInt64 { tResumed >= tRequested ? tResumed - tRequested : 0 }
}

/// The last record of a complete trace.
public struct TraceTrailer: Sendable, Equatable {
    public var mutations: UInt64
    public var snapshots: UInt64
    public var readChunks: UInt64
    public var quiescentMaps: UInt64
    /// Recording stopped early on a signal (`signal` names it).
    public var interrupted: Bool
    public var signal: Int32
    /// CLOCK_MONOTONIC around the workload's main loop (setup excluded).
    public var mutatorLoopBegin: UInt64
    public var mutatorLoopEnd: UInt64

    public init(
        mutations: UInt64, snapshots: UInt64, readChunks: UInt64, quiescentMaps: UInt64,
        interrupted: Bool, signal: Int32 = 0, mutatorLoopBegin: UInt64, mutatorLoopEnd: UInt64
    ) {
        self.mutations = mutations
        self.snapshots = snapshots
        self.readChunks = readChunks
        self.quiescentMaps = quiescentMaps
        self.interrupted = interrupted
        self.signal = signal
        self.mutatorLoopBegin = mutatorLoopBegin
        self.mutatorLoopEnd = mutatorLoopEnd
    }
}

/// One record of a trace, in file order.
public enum TraceRecord: Sendable, Equatable {
    case header(TraceHeader)
    case arena(ArenaRecord)
    case mutation(MutationRecord)
    case snapshotBegin(SnapshotBegin)
    case snapshotEnd(SnapshotEnd)
    case readChunk(ReadChunk)
    case quiescentMaps(QuiescentMaps)
    case pause(ReaderPause)
    case trailer(TraceTrailer)
    /// Version 2: what the ptrace tracer saw (`record -- CMD`).
    case traced(TracedRecord)
}

