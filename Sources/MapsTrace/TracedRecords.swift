// Records of format version 2 that `mapsrace record -- CMD` writes: what a
// ptrace tracer saw of unmodified programs (processes, execs, forks and
// threads, every traced syscall, the file behind a file-backed mmap, and
// which address space each snapshot read). Their encoding is in
// docs/trace-format.md; a version-1 trace has none of them.

/// One process the tracer followed (written once, when tracing ended).
public struct TracedProcess: Sendable, Equatable {
    public var pid: Int32
    /// The traced process it was forked from (0 for the command itself).
    public var parentPID: Int32
    public var tFirstSeen: UInt64
    /// When its last thread exited (0 if it was still running).
    public var tExit: UInt64
    /// The raw wait(2) status of its thread-group leader (-1 if never reaped).
    public var waitStatus: Int32
    /// Successful execve calls.
    public var execs: UInt32
    public var roles: TracedProcessRoles
    /// The path of its last successful execve (empty if none).
    public var command: String

    public init(
        pid: Int32, parentPID: Int32, tFirstSeen: UInt64, tExit: UInt64, waitStatus: Int32, execs: UInt32,
        roles: TracedProcessRoles, command: String
    ) {
        self.pid = pid
        self.parentPID = parentPID
        self.tFirstSeen = tFirstSeen
        self.tExit = tExit
        self.waitStatus = waitStatus
        self.execs = execs
        self.roles = roles
        self.command = command
    }
}

/// What a traced process did with maps.
public struct TracedProcessRoles: OptionSet, Sendable, Equatable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// It read a maps file (any process's).
    public static let reader = TracedProcessRoles(rawValue: 1 << 0)
    /// Its maps were read (by itself or by another process).
    public static let read = TracedProcessRoles(rawValue: 1 << 1)
    /// It changed its mappings (mmap, mprotect, munmap, mremap, brk, ...).
    public static let mutator = TracedProcessRoles(rawValue: 1 << 2)
}

/// A successful execve: `pid` gets a new address space, generation `generation`.
public struct TracedExec: Sendable, Equatable {
    public var pid: Int32
    /// The thread that called execve (it takes the pid over).
    public var formerTID: Int32
    public var t: UInt64
    /// Address spaces of one pid are numbered 0 (before its first exec, or
    /// the one it was forked with), 1, 2, ...
    public var generation: UInt32
    public var path: String

    public init(pid: Int32, formerTID: Int32, t: UInt64, generation: UInt32, path: String) {
        self.pid = pid
        self.formerTID = formerTID
        self.t = t
        self.generation = generation
        self.path = path
    }
}

/// How a traced task came to be.
public enum TracedForkKind: UInt8, Sendable, Equatable, CustomStringConvertible {
    case fork = 1
    case vfork = 2
    /// A new thread of the same process.
    case thread = 3

    public var description: String {
        switch self {
        case .fork: "fork"
        case .vfork: "vfork"
        case .thread: "thread"
        }
    }
}

/// A new process or thread, seen at its parent's PTRACE_EVENT_FORK, VFORK or CLONE stop.
public struct TracedFork: Sendable, Equatable {
    public var kind: TracedForkKind
    public var parentPID: Int32
    public var parentTID: Int32
    /// The new task's id (its pid, for a process).
    public var childTID: Int32
    public var t: UInt64

    public init(kind: TracedForkKind, parentPID: Int32, parentTID: Int32, childTID: Int32, t: UInt64) {
        self.kind = kind
        self.parentPID = parentPID
        self.parentTID = parentTID
        self.childTID = childTID
        self.t = t
    }
}

/// One traced syscall: a mutation of the mappings, or an operation on a maps
/// descriptor (open, read, lseek, ioctl, dup, close), with CLOCK_MONOTONIC
/// at the syscall-entry (seccomp) stop and at the syscall-exit stop.
public struct TracedSyscall: Sendable, Equatable {
    /// Dense from 0 in the order the tracer saw them return.
    public var sequence: UInt64
    public var pid: Int32
    public var tid: Int32
    /// The address space generation of `pid` it ran in.
    public var generation: UInt32
    /// The syscall number on the recording machine's architecture.
    public var number: Int32
    /// Its name ("mprotect", "openat", ...).
    public var name: String
    public var arguments: [UInt64]
    /// The return value (-1 on failure).
    public var result: Int64
    public var errno: Int32
    public var tBegin: UInt64
    public var tEnd: UInt64
    /// The snapshot a maps read belongs to, -1 if none.
    public var snapshot: Int32
    /// How it was logged: false at the tracer's stops (`tBegin` the seccomp
    /// stop, `tEnd` the exit stop), true by the fast path's preload library
    /// (`tBegin`/`tEnd` the tracee's clock reads right around the syscall
    /// instruction). Traces written before the fast path existed: false.
    public var fastPath: Bool

    public init(
        sequence: UInt64, pid: Int32, tid: Int32, generation: UInt32, number: Int32, name: String,
        arguments: [UInt64], result: Int64, errno: Int32, tBegin: UInt64, tEnd: UInt64, snapshot: Int32 = -1,
        fastPath: Bool = false
    ) {
        self.fastPath = fastPath
        self.sequence = sequence
        self.pid = pid
        self.tid = tid
        self.generation = generation
        self.number = number
        self.name = name
        self.arguments = arguments
        self.result = result
        self.errno = errno
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.snapshot = snapshot
    }

    public func argument(_ index: Int) -> UInt64 { index < arguments.count ? arguments[index] : 0 }
}

/// The file behind a file-backed mmap, read at the syscall-entry stop: what
/// its maps line will show.
public struct TracedFileIdentity: Sendable, Equatable {
    /// The `TracedSyscall.sequence` of the mmap.
    public var syscall: UInt64
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var inode: UInt64
    public var path: String

    public init(syscall: UInt64, deviceMajor: UInt32, deviceMinor: UInt32, inode: UInt64, path: String) {
        self.syscall = syscall
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.inode = inode
        self.path = path
    }
}

/// Which process read a snapshot and whose maps it read. Follows the
/// snapshot's end record.
public struct SnapshotSource: Sendable, Equatable {
    public var snapshot: UInt32
    public var readerPID: Int32
    public var readerTID: Int32
    /// The process whose maps were read, and its address space generation
    /// (0 for a process the tracer does not follow).
    public var targetPID: Int32
    public var targetGeneration: UInt32
    /// The descriptor the first read used.
    public var fd: Int32
    /// The path as the reader opened it ("/proc/self/maps", "/proc/42/task/43/maps").
    public var path: String

    public init(
        snapshot: UInt32, readerPID: Int32, readerTID: Int32, targetPID: Int32, targetGeneration: UInt32,
        fd: Int32, path: String
    ) {
        self.snapshot = snapshot
        self.readerPID = readerPID
        self.readerTID = readerTID
        self.targetPID = targetPID
        self.targetGeneration = targetGeneration
        self.fd = fd
        self.path = path
    }
}

/// One traced address space (a pid in one address-space generation) read
/// whole by the tracer while none of its threads could run: `initial` right
/// after its execve (or at its first stop), `final` at its last thread's
/// PTRACE_EVENT_EXIT. Written for every traced address space, in the order
/// the reads were taken.
public struct AddressSpaceMaps: Sendable, Equatable {
    public var pid: Int32
    public var generation: UInt32
    public var role: QuiescentRole
    public var tBegin: UInt64
    public var tEnd: UInt64
    public var text: [UInt8]

    public init(pid: Int32, generation: UInt32, role: QuiescentRole, tBegin: UInt64, tEnd: UInt64, text: [UInt8]) {
        self.pid = pid
        self.generation = generation
        self.role = role
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.text = text
    }
}

/// What a successful shmat's maps line will show, taken at its exit stop
/// (record 0x48, right after the shmat's syscall record): the segment's
/// size (shmctl IPC_STAT), the flags of the call, and the device, inode
/// and path the kernel prints for the segment's file.
public struct SharedMemoryAttach: Sendable, Equatable {
    /// The `TracedSyscall.sequence` of the shmat.
    public var syscall: UInt64
    /// The segment's size in bytes (shm_segsz; the mapping is this rounded up to pages).
    public var size: UInt64
    /// The shmat flags (SHM_RDONLY 0o10000, SHM_RND 0o20000, SHM_REMAP 0o40000, SHM_EXEC 0o100000).
    public var flags: UInt32
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// The segment's inode number (its shmid).
    public var inode: UInt64
    /// `/SYSV` and the key as 8 hex digits, then ` (deleted)`.
    public var path: String

    public init(
        syscall: UInt64, size: UInt64, flags: UInt32, deviceMajor: UInt32, deviceMinor: UInt32, inode: UInt64,
        path: String
    ) {
        self.syscall = syscall
        self.size = size
        self.flags = flags
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.inode = inode
        self.path = path
    }
}

/// The name a prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name) gave
/// anonymous mappings, copied out of the tracee at its entry stop (record
/// 0x49, right after the prctl's syscall record). nil: the name argument
/// was NULL (the call clears names).
public struct AnonymousName: Sendable, Equatable {
    /// The `TracedSyscall.sequence` of the prctl.
    public var syscall: UInt64
    public var name: String?

    public init(syscall: UInt64, name: String?) {
        self.syscall = syscall
        self.name = name
    }
}

/// The version-2 records of a traced recording.
public enum TracedRecord: Sendable, Equatable {
    case process(TracedProcess)
    case exec(TracedExec)
    case fork(TracedFork)
    case syscall(TracedSyscall)
    case fileIdentity(TracedFileIdentity)
    case snapshotSource(SnapshotSource)
    case addressSpaceMaps(AddressSpaceMaps)
    case sharedMemoryAttach(SharedMemoryAttach)
    case anonymousName(AnonymousName)
    case procmapQuery(TracedProcmapQuery)
}

extension RecordEncoder {
    func encodeTraced(_ record: TracedRecord, into payload: inout ByteBuffer) -> RecordKind {
        switch record {
        case .process(let p):
            payload.appendZigZag(Int64(p.pid))
            payload.appendZigZag(Int64(p.parentPID))
            span(p.tFirstSeen, p.tExit, into: &payload)
            payload.appendZigZag(Int64(p.waitStatus))
            payload.appendLEB(UInt64(p.execs))
            payload.appendLEB(UInt64(p.roles.rawValue))
            payload.appendString(p.command)
            return .tracedProcess
        case .exec(let e):
            payload.appendZigZag(Int64(e.pid))
            payload.appendZigZag(Int64(e.formerTID))
            time(e.t, into: &payload)
            payload.appendLEB(UInt64(e.generation))
            payload.appendString(e.path)
            return .tracedExec
        case .fork(let f):
            payload.appendLEB(UInt64(f.kind.rawValue))
            payload.appendZigZag(Int64(f.parentPID))
            payload.appendZigZag(Int64(f.parentTID))
            payload.appendZigZag(Int64(f.childTID))
            time(f.t, into: &payload)
            return .tracedFork
        case .syscall(let s):
            payload.appendLEB(s.sequence)
            payload.appendZigZag(Int64(s.pid))
            payload.appendZigZag(Int64(s.tid))
            payload.appendLEB(UInt64(s.generation))
            payload.appendZigZag(Int64(s.number))
            payload.appendString(s.name)
            payload.appendLEB(UInt64(s.arguments.count))
            for argument in s.arguments { payload.appendLEB(argument) }
            payload.appendZigZag(s.result)
            payload.appendZigZag(Int64(s.errno))
            span(s.tBegin, s.tEnd, into: &payload)
            payload.appendZigZag(Int64(s.snapshot))
            payload.appendLEB(s.fastPath ? 1 : 0)
            return .tracedSyscall
        case .fileIdentity(let f):
            payload.appendLEB(f.syscall)
            payload.appendLEB(UInt64(f.deviceMajor))
            payload.appendLEB(UInt64(f.deviceMinor))
            payload.appendLEB(f.inode)
            payload.appendString(f.path)
            return .fileIdentity
        case .snapshotSource(let s):
            payload.appendLEB(UInt64(s.snapshot))
            payload.appendZigZag(Int64(s.readerPID))
            payload.appendZigZag(Int64(s.readerTID))
            payload.appendZigZag(Int64(s.targetPID))
            payload.appendLEB(UInt64(s.targetGeneration))
            payload.appendZigZag(Int64(s.fd))
            payload.appendString(s.path)
            return .snapshotSource
        case .addressSpaceMaps(let m):
            payload.appendZigZag(Int64(m.pid))
            payload.appendLEB(UInt64(m.generation))
            payload.appendLEB(UInt64(m.role.rawValue))
            span(m.tBegin, m.tEnd, into: &payload)
            payload.appendBytes(m.text)
            return .addressSpaceMaps
        case .sharedMemoryAttach(let a):
            payload.appendLEB(a.syscall)
            payload.appendLEB(a.size)
            payload.appendLEB(UInt64(a.flags))
            payload.appendLEB(UInt64(a.deviceMajor))
            payload.appendLEB(UInt64(a.deviceMinor))
            payload.appendLEB(a.inode)
            payload.appendString(a.path)
            return .sharedMemoryAttach
        case .anonymousName(let n):
            payload.appendLEB(n.syscall)
            payload.appendLEB(n.name == nil ? 0 : 1)
            payload.appendString(n.name ?? "")
            return .anonymousName
        case .procmapQuery(let q):
            encodeProcmapQuery(q, into: &payload)
            return .procmapQuery
        }
    }
}

extension PayloadCursor {
    mutating func traced(_ kind: RecordKind, limits: TraceLimits) throws(TraceError) -> TracedRecord {
        switch kind {
        case .tracedProcess:
            let pid = try int32("pid")
            let parent = try int32("parent pid")
            let first = try time()
            let exit = try time(after: first)
            return .process(TracedProcess(
                pid: pid, parentPID: parent, tFirstSeen: first, tExit: exit, waitStatus: try int32("wait status"),
                execs: try uint32("execs"), roles: TracedProcessRoles(rawValue: try uint32("roles")),
                command: try string("command", limits: limits)))
        case .tracedExec:
            return .exec(TracedExec(
                pid: try int32("pid"), formerTID: try int32("former tid"), t: try time(),
                generation: try uint32("generation"), path: try string("path", limits: limits)))
        case .tracedFork:
            let code = try leb()
            guard code <= 255, let forkKind = TracedForkKind(rawValue: UInt8(code)) else {
                throw malformed("unknown fork kind \(code)")
            }
            return .fork(TracedFork(
                kind: forkKind, parentPID: try int32("parent pid"), parentTID: try int32("parent tid"),
                childTID: try int32("child tid"), t: try time()))
        case .tracedSyscall:
            let sequence = try leb()
            let pid = try int32("pid")
            let tid = try int32("tid")
            let generation = try uint32("generation")
            let number = try int32("syscall number")
            let name = try string("syscall name", limits: limits)
            let count = try leb()
            guard count <= 6 else { throw malformed("a syscall has at most 6 arguments, not \(count)") }
            var arguments: [UInt64] = []
            for _ in 0..<count { arguments.append(try leb()) }
            let result = try zigzag()
            let errno = try int32("errno")
            let tBegin = try time()
            let tEnd = try time(after: tBegin)
            let snapshot = try int32("snapshot")
            // Added with the fast path; older records end before it.
            let path = remaining > 0 ? try leb() : 0
            guard path <= 1 else { throw malformed("unknown traced syscall path \(path)") }
            return .syscall(TracedSyscall(
                sequence: sequence, pid: pid, tid: tid, generation: generation, number: number, name: name,
                arguments: arguments, result: result, errno: errno, tBegin: tBegin, tEnd: tEnd, snapshot: snapshot,
                fastPath: path == 1))
        case .fileIdentity:
            return .fileIdentity(TracedFileIdentity(
                syscall: try leb(), deviceMajor: try uint32("device major"), deviceMinor: try uint32("device minor"),
                inode: try leb(), path: try string("path", limits: limits)))
        case .snapshotSource:
            return .snapshotSource(SnapshotSource(
                snapshot: try uint32("snapshot"), readerPID: try int32("reader pid"),
                readerTID: try int32("reader tid"), targetPID: try int32("target pid"),
                targetGeneration: try uint32("target generation"), fd: try int32("fd"),
                path: try string("path", limits: limits)))
        case .addressSpaceMaps:
            let pid = try int32("pid")
            let generation = try uint32("generation")
            let code = try leb()
            guard code <= 255, let role = QuiescentRole(rawValue: UInt8(code)) else {
                throw malformed("unknown quiescent maps role \(code)")
            }
            let tBegin = try time()
            let tEnd = try time(after: tBegin)
            let text = try bytes("text", limit: min(limits.maxQuiescentText, limits.maxRecordPayload))
            return .addressSpaceMaps(AddressSpaceMaps(
                pid: pid, generation: generation, role: role, tBegin: tBegin, tEnd: tEnd, text: [UInt8](text)))
        case .sharedMemoryAttach:
            return .sharedMemoryAttach(SharedMemoryAttach(
                syscall: try leb(), size: try leb(), flags: try uint32("shmat flags"),
                deviceMajor: try uint32("device major"), deviceMinor: try uint32("device minor"), inode: try leb(),
                path: try string("path", limits: limits)))
        case .anonymousName:
            let syscall = try leb()
            let present = try leb()
            guard present <= 1 else { throw malformed("unknown anonymous name presence \(present)") }
            let name = try string("name", limits: limits)
            return .anonymousName(AnonymousName(syscall: syscall, name: present == 1 ? name : nil))
        case .procmapQuery:
            return .procmapQuery(try procmapQuery(limits: limits))
        default:
            preconditionFailure("not a traced record kind: \(kind)")
        }
    }
}
