
import MapsSystem
#if canImport(Glibc)
import Glibc
#endif

/// The raw answers of one `procmap-query` walk, kept in preallocated memory
/// while the walk runs and rendered as maps lines only once it is over, so
/// that nothing is formatted between two queries.
///
/// A walk asks PROCMAP_QUERY for the mapping covering address 0 or the next
/// one above it, then again from that mapping's end, until the kernel answers
/// ENOENT. Each answer is one mapping read atomically (under that VMA's
/// lock); the walk as a whole is not atomic, exactly like a read(2) loop.
final class ProcmapQueryWalk {
    /// Printed when the kernel does not know the ioctl.
    static let unsupportedMessage = "PROCMAP_QUERY is not supported by this kernel (needs Linux 6.11+)"
    /// Room reserved for one mapping's name: PATH_MAX and its terminating NUL.
    static let nameRoom = 4096 + 1
    /// The shortest line a rendered answer can be (8-digit addresses, no
    /// name): `00000000-00000000 ---p 00000000 00:00 0 \n`.
    static let shortestLineBytes = 41

    private let answerRegion: PreallocatedRegion
    private let nameRegion: PreallocatedRegion
    private let answers: UnsafeMutableBufferPointer<ProcmapQuery>
    private let names: UnsafeMutableRawBufferPointer
    private var nameBytesUsed = 0
    /// Answers stored by this walk so far.
    private(set) var count = 0

    /// - Parameters:
    ///   - capacity: mappings one walk may answer (more ends it with bufferFull).
    ///   - nameBytes: bytes for all names of one walk.
    init(capacity: Int, nameBytes: Int) throws(RecordingError) {
        answerRegion = try PreallocatedRegion(
            byteCount: capacity * MemoryLayout<ProcmapQuery>.stride, purpose: "the PROCMAP_QUERY answers")
        answers = UnsafeMutableBufferPointer(
            rebasing: answerRegion.bytes.bindMemory(to: ProcmapQuery.self)[0..<capacity])
        nameRegion = try PreallocatedRegion(byteCount: max(nameBytes, Self.nameRoom), purpose: "the PROCMAP_QUERY names")
        names = nameRegion.bytes
    }

    /// Forgets the previous walk's answers.
    func reset() {
        count = 0
        nameBytesUsed = 0
    }

    /// Whether one more query has room for its answer and a full-length name.
    var hasRoom: Bool { count < answers.count && names.count - nameBytesUsed >= Self.nameRoom }

    /// One PROCMAP_QUERY for the mapping covering `address` or the next one.
    /// 0 with the answer stored (see `endOfLastAnswer`), or the errno
    /// (ENOENT: no mapping at or above `address`). Call only when `hasRoom`.
    @inline(__always)
    func query(_ mapsFD: Int32, at address: UInt64) -> Int32 {
        let slot = answers.baseAddress! + count
        slot.pointee = ProcmapQuery()
        slot.pointee.size = UInt64(MemoryLayout<ProcmapQuery>.size)
        slot.pointee.query_flags = ProcmapQueryFlags.coveringOrNextMapping
        slot.pointee.query_addr = address
        slot.pointee.vma_name_addr = UInt64(UInt(bitPattern: names.baseAddress! + nameBytesUsed))
        slot.pointee.vma_name_size = UInt32(Self.nameRoom)
        if let failure = procmapQuery(mapsFD, slot) { return failure.rawValue }
        nameBytesUsed += Int(slot.pointee.vma_name_size)
        count += 1
        return 0
    }

    /// The end address of the last stored answer: where the next query starts.
    var endOfLastAnswer: UInt64 { answers[count - 1].vma_end }

    /// Writes answer `index` as the kernel prints its maps line
    /// (ProcmapQueryLine). The number of bytes written, nil if `destination`
    /// is too small.
    func renderLine(_ index: Int, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let answer = answers[index]
        let nameLength = answer.vma_name_size > 0 ? Int(answer.vma_name_size) - 1 : 0
        let name = nameLength > 0 ? UnsafeRawPointer(bitPattern: UInt(answer.vma_name_addr)) : nil
        return ProcmapQueryLine.render(answer, name: name, nameLength: nameLength, into: destination)
    }

    /// Asks the kernel once whether it knows PROCMAP_QUERY, on the maps of
    /// `pid`: nil if it does, the reason otherwise.
    static func unsupportedReason(pid: Int32) -> RecordingError? {
        let path = "/proc/\(pid)/maps"
        let fd: Int32
        switch openFile(path, O_RDONLY) {
        case .success(let opened): fd = opened
        case .failure(let code): return .mapsNotReadable(path: path, errno: code.rawValue)
        }
        defer { close(fd) }
        var query = ProcmapQuery()
        query.size = UInt64(MemoryLayout<ProcmapQuery>.size)
        query.query_flags = ProcmapQueryFlags.coveringOrNextMapping
        guard let failure = procmapQuery(fd, &query) else { return nil }
        switch failure.rawValue {
        case ENOENT: return nil
        case ENOTTY, EINVAL: return .readerFailed(unsupportedMessage)
        case let code: return .systemCallFailed("ioctl(PROCMAP_QUERY) on \(path)", errno: code)
        }
    }
}
