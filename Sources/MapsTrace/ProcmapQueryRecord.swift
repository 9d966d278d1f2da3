/// One `ioctl(PROCMAP_QUERY)` on a followed maps descriptor, as the tracer
/// copied it out of the tracee: the query at the syscall-entry stop, the
/// answer (and the name the kernel wrote) at the exit stop. Written right
/// after the ioctl's traced syscall record (record 0x44, docs/trace-format.md).
public struct TracedProcmapQuery: Sendable, Equatable {
    /// The answer of a successful query: `struct procmap_query`'s out fields.
    public struct Answer: Sendable, Equatable {
        public var vmaStart: UInt64
        public var vmaEnd: UInt64
        /// PROCMAP_QUERY_VMA_* bits: 1 readable, 2 writable, 4 executable, 8 shared.
        public var vmaFlags: UInt64
        public var pageSize: UInt64
        public var offset: UInt64
        public var inode: UInt64
        public var deviceMajor: UInt32
        public var deviceMinor: UInt32
        /// `vma_name_size` as the kernel wrote it: the name's length + 1, 0 if unnamed.
        public var nameSize: UInt32
        /// `build_id_size` as the kernel wrote it (the bytes are not copied).
        public var buildIDSize: UInt32
        /// The name the kernel wrote into the caller's buffer, without its NUL.
        public var name: [UInt8]

        public init(
            vmaStart: UInt64, vmaEnd: UInt64, vmaFlags: UInt64, pageSize: UInt64, offset: UInt64, inode: UInt64,
            deviceMajor: UInt32, deviceMinor: UInt32, nameSize: UInt32, buildIDSize: UInt32, name: [UInt8]
        ) {
            self.vmaStart = vmaStart
            self.vmaEnd = vmaEnd
            self.vmaFlags = vmaFlags
            self.pageSize = pageSize
            self.offset = offset
            self.inode = inode
            self.deviceMajor = deviceMajor
            self.deviceMinor = deviceMinor
            self.nameSize = nameSize
            self.buildIDSize = buildIDSize
            self.name = name
        }
    }

    /// The `TracedSyscall.sequence` of the ioctl.
    public var syscall: UInt64
    /// The walk snapshot the query belongs to, -1 for a single query.
    public var snapshot: Int32
    public var errno: Int32
    /// Whether the query struct could be read at the entry stop (a bad
    /// pointer: false, every query field 0).
    public var queryCopied: Bool
    /// The query as the caller passed it.
    public var size: UInt64
    public var queryFlags: UInt64
    public var queryAddress: UInt64
    public var nameBufferSize: UInt32
    public var buildIDBufferSize: UInt32
    /// nil when the ioctl failed (the kernel writes nothing then) or the
    /// struct could not be read back.
    public var answer: Answer?

    public init(
        syscall: UInt64, snapshot: Int32, errno: Int32, queryCopied: Bool, size: UInt64, queryFlags: UInt64,
        queryAddress: UInt64, nameBufferSize: UInt32, buildIDBufferSize: UInt32, answer: Answer?
    ) {
        self.syscall = syscall
        self.snapshot = snapshot
        self.errno = errno
        self.queryCopied = queryCopied
        self.size = size
        self.queryFlags = queryFlags
        self.queryAddress = queryAddress
        self.nameBufferSize = nameBufferSize
        self.buildIDBufferSize = buildIDBufferSize
        self.answer = answer
    }

    /// The query flag that asks for the mapping covering the address or the next one.
    public static let coveringOrNext: UInt64 = 0x10
}

extension RecordEncoder {
    func encodeProcmapQuery(_ q: TracedProcmapQuery, into payload: inout ByteBuffer) {
        payload.appendLEB(q.syscall)
        payload.appendZigZag(Int64(q.snapshot))
        payload.appendZigZag(Int64(q.errno))
        payload.appendLEB(q.answer != nil ? 2 : q.queryCopied ? 1 : 0)
        payload.appendLEB(q.size)
        payload.appendLEB(q.queryFlags)
        payload.appendLEB(q.queryAddress)
        payload.appendLEB(UInt64(q.nameBufferSize))
        payload.appendLEB(UInt64(q.buildIDBufferSize))
        guard let a = q.answer else { return }
        payload.appendLEB(a.vmaStart)
        payload.appendLEB(a.vmaEnd)
        payload.appendLEB(a.vmaFlags)
        payload.appendLEB(a.pageSize)
        payload.appendLEB(a.offset)
        payload.appendLEB(a.inode)
        payload.appendLEB(UInt64(a.deviceMajor))
        payload.appendLEB(UInt64(a.deviceMinor))
        payload.appendLEB(UInt64(a.nameSize))
        payload.appendLEB(UInt64(a.buildIDSize))
        payload.appendBytes(a.name)
    }
}

extension PayloadCursor {
    mutating func procmapQuery(limits: TraceLimits) throws(TraceError) -> TracedProcmapQuery {
        let syscall = try leb()
        let snapshot = try int32("snapshot")
        let errno = try int32("errno")
        let copied = try leb()
        guard copied <= 2 else { throw malformed("unknown PROCMAP_QUERY copy state \(copied)") }
        let size = try leb()
        let flags = try leb()
        let address = try leb()
        let nameBuffer = try uint32("name buffer size")
        let buildIDBuffer = try uint32("build id buffer size")
        var answer: TracedProcmapQuery.Answer?
        if copied == 2 {
            let start = try leb()
            let end = try leb()
            let vmaFlags = try leb()
            let pageSize = try leb()
            let offset = try leb()
            let inode = try leb()
            let major = try uint32("device major")
            let minor = try uint32("device minor")
            let nameSize = try uint32("name size")
            let buildIDSize = try uint32("build id size")
            let name = try bytes("name", limit: min(limits.maxString, limits.maxRecordPayload))
            answer = TracedProcmapQuery.Answer(
                vmaStart: start, vmaEnd: end, vmaFlags: vmaFlags, pageSize: pageSize, offset: offset, inode: inode,
                deviceMajor: major, deviceMinor: minor, nameSize: nameSize, buildIDSize: buildIDSize, name: [UInt8](name))
        }
        return TracedProcmapQuery(
            syscall: syscall, snapshot: snapshot, errno: errno, queryCopied: copied >= 1, size: size, queryFlags: flags,
            queryAddress: address, nameBufferSize: nameBuffer, buildIDBufferSize: buildIDBuffer, answer: answer)
    }
}
