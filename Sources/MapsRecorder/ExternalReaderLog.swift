import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// One snapshot an external reader took (`record --workload W -- CMD`),
/// as the traced-reader process hands it to the recorder.
public struct ExternalReaderSnapshot: Sendable {
    public var tBegin: UInt64
    public var tEnd: UInt64
    public var flags: SnapshotFlags
    public var errno: Int32
    /// Its reads, in order: offset, bytes asked for, result, errno, times, bytes.
    public var chunks: [ReadChunk]

    public init(tBegin: UInt64, tEnd: UInt64, flags: SnapshotFlags, errno: Int32, chunks: [ReadChunk]) {
        self.tBegin = tBegin
        self.tEnd = tEnd
        self.flags = flags
        self.errno = errno
        self.chunks = chunks
    }
}

/// Writes `snapshots` to `fd` in the reader-log layout (ReaderLog.swift) the
/// recorder reads back from every reader process. Snapshots are renumbered
/// from 0 in order.
public func handOverExternalReaderLog(_ snapshots: [ExternalReaderSnapshot], to fd: Int32) throws(RecordingError) {
    var snapshotEntries: [ReaderSnapshotEntry] = []
    var chunkEntries: [ReaderChunkEntry] = []
    var bytes: [UInt8] = []
    for (index, snapshot) in snapshots.enumerated() {
        snapshotEntries.append(ReaderSnapshotEntry(
            index: UInt32(index), flags: snapshot.flags.rawValue, tBegin: snapshot.tBegin, tEnd: snapshot.tEnd,
            errno: snapshot.errno, reserved: 0, firstChunk: UInt64(chunkEntries.count),
            chunkCount: UInt64(snapshot.chunks.count)))
        for (sequence, chunk) in snapshot.chunks.enumerated() {
            chunkEntries.append(ReaderChunkEntry(
                snapshot: UInt32(index), sequence: UInt32(sequence), offset: chunk.offset, requested: chunk.requested,
                returned: chunk.returned, errno: chunk.errno, reserved: 0, tBegin: chunk.tBegin, tEnd: chunk.tEnd,
                byteOffset: UInt64(bytes.count)))
            bytes += chunk.bytes
        }
    }
    var position = MemoryLayout<ReaderLogHeader>.stride
    var failure: Errno?
    func put(_ part: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        if case .failure(let code) = writeAll(fd, part, at: position) { failure = code }
        position += part.count
    }
    snapshotEntries.withUnsafeBytes { put($0) }
    chunkEntries.withUnsafeBytes { put($0) }
    bytes.withUnsafeBytes { put($0) }
    var header = ReaderLogHeader(
        magic: ReaderLogHeader.expectedMagic,
        snapshotStride: UInt64(MemoryLayout<ReaderSnapshotEntry>.stride),
        chunkStride: UInt64(MemoryLayout<ReaderChunkEntry>.stride),
        snapshotCount: UInt64(snapshotEntries.count), chunkCount: UInt64(chunkEntries.count),
        byteCount: UInt64(bytes.count))
    position = 0
    withUnsafeBytes(of: &header) { put($0) }
    if let failure { throw .systemCallFailed("writing the reader log", errno: failure.rawValue) }
}
