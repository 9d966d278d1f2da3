internal import CTracer

#if canImport(Glibc)
import Glibc
#endif

/// What one stop of the tracer logged. Plain data of a fixed size: the log
/// is a preallocated array of these, filled in the stop loop and encoded into
/// trace records only after every tracee is gone.
struct TracerEvent {
    enum Kind: UInt8 {
        /// A traced syscall: a mutation or an operation on a maps descriptor.
        case syscall
        /// A successful execve (PTRACE_EVENT_EXEC): `a0` the former tid.
        case exec
        /// A new task: `a0` the child tid, `a1` the TracedForkKind.
        case fork
        /// A whole maps text read while the process could not run: `a0` the
        /// QuiescentRole, the text in `data`.
        case quiescent
    }

    var kind: Kind
    var pid: Int32
    var tid: Int32
    var generation: UInt32
    var number: Int32 = -1
    var a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0, a4: UInt64 = 0, a5: UInt64 = 0
    var result: Int64 = 0
    var errno: Int32 = 0
    var tBegin: UInt64
    var tEnd: UInt64
    /// Maps reads: the snapshot and the chunk's place in it (-1 if none),
    /// the file offset the read started at and the bytes asked for.
    var snapshot: Int32 = -1
    var chunk: UInt32 = 0
    var offset: UInt64 = 0
    var requested: UInt64 = 0
    /// The open file description of a maps operation (-1 if none).
    var description: Int32 = -1
    /// Bytes in the log's data area: a read's data, an exec's or open's path,
    /// a quiescent text.
    var dataStart = 0
    var dataCount = 0
    /// A file-backed mmap: the file behind the descriptor at the entry stop.
    var fileDevice: UInt64 = 0
    var fileInode: UInt64 = 0
    var filePathStart = 0
    var filePathCount = -1
    /// Taken from the fast path's ring (FastPath.swift), not at stops: the
    /// times are the tracee's own clock reads around the syscall instruction.
    var fastPath = false
    /// A successful shmat (SharedMemoryNames.swift): the segment's size (0
    /// when it could not be read); its file identity is in the file fields.
    var segmentSize: UInt64 = 0
    /// A prctl(PR_SET_VMA_ANON_NAME): 0 not taken, 1 the name in `data`, 2 a NULL name.
    var anonymousName: UInt8 = 0
    /// A PROCMAP_QUERY: whether the caller's struct could be read at the entry
    /// stop (ProcmapQueryTrace.swift; the bytes are in the data area).
    var queryCopied = false
}

/// Preallocated storage for the stop loop: the event array and one data area
/// for every byte copied out of the tracees. Neither grows: when one is full
/// the recording stops with `TracerLimit`.
final class TracerLog {
    let eventCapacity: Int
    let dataCapacity: Int
    private(set) var events: UnsafeMutablePointer<TracerEvent>
    private(set) var eventCount = 0
    let data: UnsafeMutableRawPointer
    private(set) var dataCount = 0

    init?(eventCapacity: Int, dataCapacity: Int) {
        self.eventCapacity = eventCapacity
        self.dataCapacity = dataCapacity
        events = UnsafeMutablePointer<TracerEvent>.allocate(capacity: eventCapacity)
        guard let area = mmap(nil, dataCapacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
            area != MAP_FAILED
        else {
            events.deallocate()
            return nil
        }
        data = area
    }

    deinit {
        events.deinitialize(count: eventCount)
        events.deallocate()
        munmap(data, dataCapacity)
    }

    var eventsFull: Bool { eventCount >= eventCapacity }
    var dataRoom: Int { dataCapacity - dataCount }

    /// Appends an event; its index, or nil when the log is full.
    @inline(__always) func append(_ event: TracerEvent) -> Int? {
        guard eventCount < eventCapacity else { return nil }
        (events + eventCount).initialize(to: event)
        eventCount += 1
        return eventCount - 1
    }

    @inline(__always) func event(_ index: Int) -> UnsafeMutablePointer<TracerEvent> { events + index }

    /// Where the next bytes go (at most `dataRoom` of them).
    var dataEnd: UnsafeMutableRawPointer { data + dataCount }

    /// Claims `count` bytes written at `dataEnd`; their start.
    @inline(__always) func commitData(_ count: Int) -> Int {
        let start = dataCount
        dataCount += count
        return start
    }

    func bytes(_ start: Int, _ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: data + start, count: count))
    }

    func string(_ start: Int, _ count: Int) -> String {
        guard count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data + start, count: count), as: UTF8.self)
    }

    var eventBuffer: UnsafeBufferPointer<TracerEvent> { UnsafeBufferPointer(start: events, count: eventCount) }
}
