#if canImport(Glibc)
import Glibc
#endif

/// The first bytes of the raw record stream (block 0 only), then the format
/// version as a little-endian u32.
let traceMagic: [UInt8] = Array("MAPSRACE".utf8)
let tracePreambleSize = 12

/// Record kinds of format v1. Kinds >= `firstSkippableKind` that a reader does
/// not know are skipped; unknown kinds below it are malformed.
enum RecordKind: UInt8 {
    case header = 1
    case arena = 2
    case mutation = 3
    case snapshotBegin = 4
    case snapshotEnd = 5
    case readChunk = 6
    case quiescentFragment = 7
    case trailer = 8
    case pause = 9
    // Version 2 (TracedRecords.swift).
    case tracedProcess = 10
    case tracedExec = 11
    case tracedFork = 12
    case tracedSyscall = 13
    case fileIdentity = 14
    case snapshotSource = 15
    /// Added within version 2, in the skippable range: a reader that does
    /// not know it skips it.
    case addressSpaceMaps = 0x40
    /// Also skippable: what a successful shmat's maps line will show, and
    /// the name a prctl(PR_SET_VMA_ANON_NAME) gave (copied at its entry stop).
    case sharedMemoryAttach = 0x48
    case anonymousName = 0x49
    /// A PROCMAP_QUERY's query and answer (ProcmapQueryRecord.swift); skippable too.
    case procmapQuery = 0x44

    var isTraced: Bool {
        (rawValue >= 10 && rawValue <= 15) || self == .addressSpaceMaps || self == .sharedMemoryAttach
            || self == .anonymousName || self == .procmapQuery
    }

    static let firstSkippableKind: UInt8 = 0x40
}

/// Quiescent maps texts are written as fragments of at most this many bytes.
let quiescentFragmentSize = 512 * 1024

func recordKindName(_ kind: UInt8) -> String {
    switch RecordKind(rawValue: kind) {
    case .header: "header"
    case .arena: "arena"
    case .mutation: "mutation"
    case .snapshotBegin: "snapshot-begin"
    case .snapshotEnd: "snapshot-end"
    case .readChunk: "read-chunk"
    case .quiescentFragment: "quiescent-maps-fragment"
    case .trailer: "trailer"
    case .pause: "pause"
    case .tracedProcess: "process"
    case .tracedExec: "exec"
    case .tracedFork: "fork"
    case .tracedSyscall: "traced-syscall"
    case .fileIdentity: "file-identity"
    case .snapshotSource: "snapshot-source"
    case .addressSpaceMaps: "address-space-maps"
    case .sharedMemoryAttach: "shared-memory-attach"
    case .anonymousName: "anonymous-name"
    case .procmapQuery: "procmap-query"
    case nil: "kind-\(kind)"
    }
}

@inline(__always) func zigzag(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value << 1) ^ (value >> 63))
}

@inline(__always) func unzigzag(_ value: UInt64) -> Int64 {
    Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
}

/// A growable byte buffer on malloc'ed memory, for encoding without
/// per-byte bounds checks.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var count: Int = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        guard let memory = malloc(self.capacity) else { fatalError("out of memory allocating \(capacity) bytes") }
        base = memory
    }

    deinit { free(base) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        guard let memory = realloc(base, newCapacity) else { fatalError("out of memory growing to \(newCapacity) bytes") }
        base = memory
        capacity = newCapacity
    }

    @inline(__always) mutating func append(byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0, let source = raw.baseAddress else { return }
        reserve(raw.count)
        (base + count).copyMemory(from: source, byteCount: raw.count)
        count += raw.count
    }

    mutating func append(_ array: [UInt8]) {
        array.withUnsafeBytes { append($0) }
    }

    @inline(__always) mutating func appendLEB(_ value: UInt64) {
        reserve(10)
        var remaining = value
        var position = count
        while remaining >= 0x80 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: remaining) | 0x80, toByteOffset: position, as: UInt8.self)
            remaining >>= 7
            position += 1
        }
        base.storeBytes(of: UInt8(truncatingIfNeeded: remaining), toByteOffset: position, as: UInt8.self)
        count = position + 1
    }

    @inline(__always) mutating func appendZigZag(_ value: Int64) { appendLEB(zigzag(value)) }

    mutating func appendString(_ string: String) {
        var utf8 = string
        utf8.withUTF8 { text in
            appendLEB(UInt64(text.count))
            append(UnsafeRawBufferPointer(text))
        }
    }

    mutating func appendBytes(_ array: [UInt8]) {
        appendLEB(UInt64(array.count))
        append(array)
    }

    mutating func appendUInt32LE(_ value: UInt32) {
        reserve(4)
        base.storeBytes(of: value.littleEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }
}

func lebLength(_ value: UInt64) -> Int {
    var length = 1
    var remaining = value >> 7
    while remaining != 0 { length += 1; remaining >>= 7 }
    return length
}

/// Encodes record payloads (without kind and length) in format v1.
/// Timestamps go relative to the header's `originNs`; a `tEnd` that follows a
/// `tBegin` in the same record goes as the unsigned difference (mod 2^64, so
/// every value round-trips).
struct RecordEncoder {
    var originNs: UInt64 = 0

    @inline(__always) func time(_ t: UInt64, into payload: inout ByteBuffer) {
        payload.appendZigZag(Int64(bitPattern: t &- originNs))
    }

    @inline(__always) func span(_ tBegin: UInt64, _ tEnd: UInt64, into payload: inout ByteBuffer) {
        time(tBegin, into: &payload)
        payload.appendLEB(tEnd &- tBegin)
    }

    func encodeHeader(_ header: TraceHeader, into payload: inout ByteBuffer) {
        payload.appendString(header.toolVersion)
        payload.appendString(header.kernelRelease)
        payload.appendString(header.kernelVersion)
        payload.appendString(header.machine)
        payload.appendLEB(header.pageSize)
        payload.appendZigZag(Int64(header.clockID))
        payload.appendLEB(header.clockResolutionNs)
        payload.appendZigZag(header.startWallClockNs)
        payload.appendLEB(header.originNs)
        payload.appendZigZag(Int64(header.mutatorPID))
        payload.appendZigZag(Int64(header.readerPID))
        payload.appendString(header.workload)
        encodeParameters(header.workloadParameters, into: &payload)
        payload.appendString(header.reader)
        encodeParameters(header.readerParameters, into: &payload)
        payload.appendLEB(header.seed)
    }

    private func encodeParameters(_ parameters: [TraceParameter], into payload: inout ByteBuffer) {
        payload.appendLEB(UInt64(parameters.count))
        for parameter in parameters {
            payload.appendString(parameter.key)
            payload.appendString(parameter.value)
        }
    }

    func encodeArena(_ arena: ArenaRecord, into payload: inout ByteBuffer) {
        payload.appendLEB(arena.start)
        payload.appendLEB(arena.end)
    }

    func encodeMutation(_ m: MutationRecord, into payload: inout ByteBuffer) {
        payload.appendLEB(m.sequence)
        payload.appendLEB(UInt64(m.kind.rawValue))
        payload.appendLEB(m.address)
        payload.appendLEB(m.length)
        payload.appendZigZag(Int64(m.prot))
        payload.appendZigZag(Int64(m.flags))
        payload.appendLEB(m.newAddress)
        payload.appendLEB(m.newLength)
        payload.appendZigZag(m.result)
        payload.appendZigZag(Int64(m.errno))
        span(m.tBegin, m.tEnd, into: &payload)
        payload.appendZigZag(Int64(m.threadID))
    }

    func encodeSnapshotBegin(_ s: SnapshotBegin, into payload: inout ByteBuffer) {
        payload.appendLEB(UInt64(s.index))
        time(s.tBegin, into: &payload)
        payload.appendString(s.strategy)
    }

    func encodeSnapshotEnd(_ s: SnapshotEnd, into payload: inout ByteBuffer) {
        payload.appendLEB(UInt64(s.index))
        time(s.tEnd, into: &payload)
        payload.appendLEB(UInt64(s.flags.rawValue))
        payload.appendZigZag(Int64(s.errno))
    }

    func encodePause(_ p: ReaderPause, into payload: inout ByteBuffer) {
        payload.appendLEB(UInt64(p.snapshot))
        span(p.tRequested, p.tStopped, into: &payload)
        payload.appendLEB(p.tResumed &- p.tStopped)
    }

    func encodeReadChunk(_ c: ReadChunk, into payload: inout ByteBuffer) {
        payload.appendLEB(UInt64(c.snapshot))
        payload.appendLEB(UInt64(c.sequence))
        payload.appendLEB(c.offset)
        payload.appendLEB(c.requested)
        payload.appendZigZag(c.returned)
        payload.appendZigZag(Int64(c.errno))
        span(c.tBegin, c.tEnd, into: &payload)
        payload.appendBytes(c.bytes)
    }

    /// One fragment of a quiescent maps text: `text[fragmentOffset ..< fragmentOffset + fragmentLength]`.
    func encodeQuiescentFragment(
        _ q: QuiescentMaps, fragmentOffset: Int, fragmentLength: Int, into payload: inout ByteBuffer
    ) {
        payload.appendLEB(UInt64(q.role.rawValue))
        span(q.tBegin, q.tEnd, into: &payload)
        payload.appendLEB(UInt64(q.text.count))
        payload.appendLEB(UInt64(fragmentOffset))
        payload.appendLEB(UInt64(fragmentLength))
        q.text.withUnsafeBytes { text in
            payload.append(UnsafeRawBufferPointer(rebasing: text[fragmentOffset ..< fragmentOffset + fragmentLength]))
        }
    }

    func encodeTrailer(_ t: TraceTrailer, into payload: inout ByteBuffer) {
        payload.appendLEB(t.mutations)
        payload.appendLEB(t.snapshots)
        payload.appendLEB(t.readChunks)
        payload.appendLEB(t.quiescentMaps)
        payload.appendLEB(t.interrupted ? 1 : 0)
        payload.appendZigZag(Int64(t.signal))
        span(t.mutatorLoopBegin, t.mutatorLoopEnd, into: &payload)
    }
}
