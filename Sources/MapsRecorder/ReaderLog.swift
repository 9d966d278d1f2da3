import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

// The reader's log as it hands it to the recorder through the log fd (a
// memfd). Both ends are the same mapsrace binary, so the layout is the
// in-memory one, checked by a magic number and the entry strides:
//
//   offset 0                      ReaderLogHeader (written last)
//   headerBytes                   snapshotCount x ReaderSnapshotEntry
//   ... + snapshots               chunkCount x ReaderChunkEntry
//   ... + chunks                  byteCount bytes: every chunk's bytes, in order
//
// A log whose header is missing or does not match is "not handed over".
// Whether the reader was interrupted is not in the log: the recorder got the
// same stop signal and knows it already (snapshots end `interrupted`).

struct ReaderLogHeader {
    static let expectedMagic: UInt64 = 0x4D52_5245_4144_4C31  // "MRREADL1"
    var magic: UInt64
    var snapshotStride: UInt64
    var chunkStride: UInt64
    var snapshotCount: UInt64
    var chunkCount: UInt64
    var byteCount: UInt64
}

struct ReaderSnapshotEntry {
    var index: UInt32
    var flags: UInt32
    var tBegin: UInt64
    var tEnd: UInt64
    var errno: Int32
    var reserved: UInt32
    /// Index of the snapshot's first chunk in the chunk table, and how many.
    var firstChunk: UInt64
    var chunkCount: UInt64
    /// `frozen` only (0 otherwise): CLOCK_MONOTONIC before the target was
    /// seized and interrupted, once every thread was seen stopped, and after
    /// the last thread was detached (resumed).
    var tInterruptRequested: UInt64 = 0
    var tStoppedConfirmed: UInt64 = 0
    var tResumed: UInt64 = 0
}

struct ReaderChunkEntry {
    var snapshot: UInt32
    var sequence: UInt32
    var offset: UInt64
    var requested: UInt64
    var returned: Int64
    var errno: Int32
    var reserved: UInt32
    var tBegin: UInt64
    var tEnd: UInt64
    /// Where the returned bytes start in the byte area.
    var byteOffset: UInt64
}

/// How long a `frozen` reader kept the target stopped around one snapshot.
struct ReaderPauseTimes: Equatable {
    /// Before the target was seized and interrupted.
    var tInterruptRequested: UInt64
    /// Once every thread of the target was seen stopped.
    var tStoppedConfirmed: UInt64
    /// After the target was let go again.
    var tResumed: UInt64
}

/// One snapshot as the recorder gets it back from the reader.
struct ReaderSnapshot {
    var begin: SnapshotBegin
    var chunks: [ReadChunk]
    var end: SnapshotEnd
    /// Set when the reader stopped the target for this snapshot.
    var pause: ReaderPauseTimes?
}

/// The decoded log of a reader process.
struct ReaderLog {
    var snapshots: [ReaderSnapshot]

    var readCount: Int { snapshots.reduce(0) { $0 + $1.chunks.count } }
    var bytesRead: Int {
        snapshots.reduce(0) { total, snapshot in
            total + snapshot.chunks.reduce(0) { $0 + $1.bytes.count }
        }
    }

    /// Decodes the log in `data`; a description of what is wrong otherwise.
    static func decode(_ data: UnsafeRawBufferPointer, strategy: String) -> Result<ReaderLog, RecordingError> {
        func malformed(_ reason: String) -> Result<ReaderLog, RecordingError> {
            .failure(.readerFailed("its log is unusable: \(reason)"))
        }
        let headerBytes = MemoryLayout<ReaderLogHeader>.stride
        guard data.count >= headerBytes else { return malformed("\(data.count) bytes, no header") }
        let header = data.loadUnaligned(as: ReaderLogHeader.self)
        guard header.magic == ReaderLogHeader.expectedMagic,
            header.snapshotStride == MemoryLayout<ReaderSnapshotEntry>.stride,
            header.chunkStride == MemoryLayout<ReaderChunkEntry>.stride
        else { return malformed("bad magic or layout (reader from another build?)") }
        let snapshotsStart = headerBytes
        let (snapshotBytes, o1) = header.snapshotCount.multipliedReportingOverflow(by: header.snapshotStride)
        let (chunkBytes, o2) = header.chunkCount.multipliedReportingOverflow(by: header.chunkStride)
        // Compared by subtraction: no sum of counts from the log can overflow.
        let afterHeader = UInt64(data.count - headerBytes)
        guard !o1, !o2, snapshotBytes <= afterHeader, chunkBytes <= afterHeader - snapshotBytes,
            header.byteCount <= afterHeader - snapshotBytes - chunkBytes
        else {
            return malformed("counts exceed the \(data.count)-byte log")
        }
        let chunksStart = snapshotsStart + Int(snapshotBytes)
        let bytesStart = chunksStart + Int(chunkBytes)
        var snapshots: [ReaderSnapshot] = []
        snapshots.reserveCapacity(Int(header.snapshotCount))
        for snapshotIndex in 0..<Int(header.snapshotCount) {
            let entry = data.loadUnaligned(
                fromByteOffset: snapshotsStart + snapshotIndex * MemoryLayout<ReaderSnapshotEntry>.stride,
                as: ReaderSnapshotEntry.self)
            guard entry.firstChunk <= header.chunkCount, entry.chunkCount <= header.chunkCount - entry.firstChunk else {
                return malformed("snapshot \(entry.index) points past the chunk table")
            }
            var chunks: [ReadChunk] = []
            chunks.reserveCapacity(Int(entry.chunkCount))
            for chunkIndex in Int(entry.firstChunk)..<Int(entry.firstChunk + entry.chunkCount) {
                let chunk = data.loadUnaligned(
                    fromByteOffset: chunksStart + chunkIndex * MemoryLayout<ReaderChunkEntry>.stride,
                    as: ReaderChunkEntry.self)
                let count = max(chunk.returned, 0)
                guard chunk.byteOffset <= header.byteCount, UInt64(count) <= header.byteCount - chunk.byteOffset else {
                    return malformed("chunk \(chunk.sequence) of snapshot \(entry.index) points past the bytes")
                }
                let start = bytesStart + Int(chunk.byteOffset)
                chunks.append(
                    ReadChunk(
                        snapshot: chunk.snapshot, sequence: chunk.sequence, offset: chunk.offset,
                        requested: chunk.requested, returned: chunk.returned, errno: chunk.errno,
                        tBegin: chunk.tBegin, tEnd: chunk.tEnd,
                        bytes: Array(data[start..<(start + Int(count))])))
            }
            snapshots.append(
                ReaderSnapshot(
                    begin: SnapshotBegin(index: entry.index, tBegin: entry.tBegin, strategy: strategy),
                    chunks: chunks,
                    end: SnapshotEnd(
                        index: entry.index, tEnd: entry.tEnd, flags: SnapshotFlags(rawValue: entry.flags),
                        errno: entry.errno),
                    pause: entry.tInterruptRequested == 0
                        ? nil
                        : ReaderPauseTimes(
                            tInterruptRequested: entry.tInterruptRequested, tStoppedConfirmed: entry.tStoppedConfirmed,
                            tResumed: entry.tResumed)))
        }
        return .success(ReaderLog(snapshots: snapshots))
    }

    /// Maps the memfd `fd` and decodes it.
    static func read(fromFD fd: Int32, strategy: String) -> Result<ReaderLog, RecordingError> {
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            return .failure(.readerFailed("cannot stat its log: \(Errno.afterFailedCall.text)"))
        }
        let size = Int(status.st_size)
        guard size > 0 else { return .failure(.readerFailed("it handed over no log")) }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            return .failure(.readerFailed("cannot map its \(size)-byte log: \(Errno.afterFailedCall.text)"))
        }
        defer { munmap(address, size) }
        return decode(UnsafeRawBufferPointer(start: address, count: size), strategy: strategy)
    }
}
