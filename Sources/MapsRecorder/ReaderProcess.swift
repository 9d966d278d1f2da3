internal import CProcfs
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What the `_reader` subcommand is told by the recorder that spawned it.
public struct ReaderProcessConfiguration: Sendable, Equatable {
    /// The mutator: the reader reads `/proc/<targetPID>/maps`.
    public var targetPID: Int32
    public var strategy: ReaderStrategy
    public var snapshotCount: Int
    /// Inherited memfd the log is written to after the last snapshot.
    public var logFD: Int32
    /// Inherited pipe end: one byte is written right before the first open.
    public var readyFD: Int32
    /// Size of the byte buffer every returned byte is stored in.
    public var byteCapacity: Int

    /// The largest byte buffer a reader allocates (it is touched up front).
    public static let maximumByteCapacity = 512 << 20
    /// The largest chunk table (entries) a reader allocates.
    public static let maximumChunkCapacity = 2 << 20

    public init(
        targetPID: Int32, strategy: ReaderStrategy, snapshotCount: Int, logFD: Int32, readyFD: Int32,
        byteCapacity: Int
    ) {
        self.targetPID = targetPID
        self.strategy = strategy
        self.snapshotCount = snapshotCount
        self.logFD = logFD
        self.readyFD = readyFD
        self.byteCapacity = byteCapacity
    }

    /// The command-line arguments of `_reader` that describe this configuration.
    var arguments: [String] {
        [
            "--pid", "\(targetPID)", "--reader", strategy.description, "--snapshots", "\(snapshotCount)",
            "--log-fd", "\(logFD)", "--ready-fd", "\(readyFD)", "--buffer-bytes", "\(byteCapacity)",
        ]
    }

    /// Read chunks the table must hold for `byteCapacity` bytes: every
    /// read(2) returns at least min(request, 512) bytes but the last of each
    /// snapshot (maps is generated a page at a time and seq_file fills the
    /// user buffer), plus the end-of-file read of each snapshot.
    var chunkCapacity: Int {
        let smallestRequest: Int
        switch strategy {
        case .chromium, .pmap: smallestRequest = ReaderStrategy.procfsStdioBufferBytes
        case .read(let bytes): smallestRequest = bytes
        }
        let estimate = byteCapacity / min(smallestRequest, 512) + 2 * snapshotCount + 16
        return min(estimate, Self.maximumChunkCapacity)
    }
}

/// The reader process's main: reads the maps `snapshotCount` times back to
/// back, logging every read(2) into preallocated memory, then hands the log
/// over through `logFD`. Stops early (log still handed over) on SIGINT or
/// SIGTERM.
public func runReaderProcess(_ configuration: ReaderProcessConfiguration) throws(RecordingError) {
    guard mapsrace_install_stop_handlers() == 0 else {
        throw .systemCallFailed("sigaction", errno: errno)
    }
    let reader = try MapsReader(configuration)
    reader.readAllSnapshots()
    try reader.handOverLog()
}

/// The read side of a glibc FILE: its buffer and what of it is unread.
private struct GlibcFileReadBuffer {
    let buffer: UnsafeMutableRawPointer
    var position = 0
    var end = 0
    var endOfFile = false
    var failed = false

    init(buffer: UnsafeMutableRawPointer) {
        self.buffer = buffer
    }
}

/// The reader's state: preallocated tables and the snapshot being read. A
/// class so that the stdio read hook can reach it through its cookie.
private final class MapsReader {
    private let configuration: ReaderProcessConfiguration
    private let path: ContiguousArray<CChar>
    private let byteRegion: PreallocatedRegion
    private let chunkRegion: PreallocatedRegion
    private let snapshotRegion: PreallocatedRegion
    private let stdioRegion: PreallocatedRegion
    private let bytes: UnsafeMutableRawBufferPointer
    private let chunks: UnsafeMutableBufferPointer<ReaderChunkEntry>
    private let snapshots: UnsafeMutableBufferPointer<ReaderSnapshotEntry>
    /// The FILE's own buffer (setvbuf), then the caller's fread/fgets buffer.
    private let stdioBuffer: UnsafeMutablePointer<CChar>
    private let callerBuffer: UnsafeMutableRawPointer
    private var bytesUsed = 0
    private var chunkCount = 0
    private var snapshotCount = 0

    // The snapshot being read.
    private var fd: Int32 = -1
    private var snapshotIndex: UInt32 = 0
    private var sequence: UInt32 = 0
    private var offset: UInt64 = 0
    private var outcome: SnapshotFlags = []
    private var failureErrno: Int32 = 0

    init(_ configuration: ReaderProcessConfiguration) throws(RecordingError) {
        self.configuration = configuration
        path = ContiguousArray("/proc/\(configuration.targetPID)/maps".utf8CString)
        let byteCapacity = min(max(configuration.byteCapacity, 1 << 20), ReaderProcessConfiguration.maximumByteCapacity)
        byteRegion = try PreallocatedRegion(byteCount: byteCapacity, purpose: "the reader's byte buffer")
        bytes = byteRegion.bytes
        let chunkCapacity = configuration.chunkCapacity
        chunkRegion = try PreallocatedRegion(
            byteCount: chunkCapacity * MemoryLayout<ReaderChunkEntry>.stride, purpose: "the reader's chunk table")
        chunks = UnsafeMutableBufferPointer(
            rebasing: chunkRegion.bytes.bindMemory(to: ReaderChunkEntry.self)[0..<chunkCapacity])
        snapshotRegion = try PreallocatedRegion(
            byteCount: configuration.snapshotCount * MemoryLayout<ReaderSnapshotEntry>.stride,
            purpose: "the reader's snapshot table")
        snapshots = UnsafeMutableBufferPointer(
            rebasing: snapshotRegion.bytes.bindMemory(to: ReaderSnapshotEntry.self)[0..<configuration.snapshotCount])
        stdioRegion = try PreallocatedRegion(
            byteCount: ReaderStrategy.procfsStdioBufferBytes + ReaderStrategy.chromiumNextChunkBytes,
            purpose: "the reader's stdio buffers")
        stdioBuffer = stdioRegion.bytes.baseAddress!.bindMemory(to: CChar.self, capacity: ReaderStrategy.procfsStdioBufferBytes)
        callerBuffer = stdioRegion.bytes.baseAddress! + ReaderStrategy.procfsStdioBufferBytes
    }

    func readAllSnapshots() {
        signalReady()
        for index in 0..<configuration.snapshotCount {
            if mapsrace_stop_signal() != 0 { break }
            let keepGoing = readSnapshot(UInt32(index))
            if !keepGoing { break }
        }
    }

    /// Tells the recorder the first open is next, so its loop starts now.
    private func signalReady() {
        var byte: UInt8 = 1
        _ = write(configuration.readyFD, &byte, 1)
        close(configuration.readyFD)
    }

    /// One snapshot: a fresh open, reads from offset 0 to EOF, close.
    /// false when no further snapshot can succeed.
    private func readSnapshot(_ index: UInt32) -> Bool {
        snapshotIndex = index
        sequence = 0
        offset = 0
        outcome = []
        failureErrno = 0
        let firstChunk = chunkCount
        let tBegin = monotonicNanoseconds()
        fd = path.withUnsafeBufferPointer { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            failureErrno = errno
            outcome.insert(.failed)
        } else {
            switch configuration.strategy {
            case .read(let requestBytes): readLoop(requestBytes: requestBytes)
            case .chromium: chromiumLoop()
            case .pmap: pmapLoop()
            }
        }
        let tEnd = monotonicNanoseconds()
        if fd >= 0 { close(fd) }
        fd = -1
        snapshots[snapshotCount] = ReaderSnapshotEntry(
            index: index, flags: outcome.rawValue, tBegin: tBegin, tEnd: tEnd, errno: failureErrno, reserved: 0,
            firstChunk: UInt64(firstChunk), chunkCount: UInt64(chunkCount - firstChunk))
        snapshotCount += 1
        return !outcome.contains(.failed) && !outcome.contains(.bufferFull) && !outcome.contains(.interrupted)
    }

    /// One logged read(2) of `requested` bytes into `destination`; the bytes
    /// are copied into the byte buffer unless they were read straight into it.
    /// Refuses (ENOBUFS) a read whose result might not fit, and stops (EINTR)
    /// once a stop signal arrived.
    func loggedRead(into destination: UnsafeMutableRawPointer, requested: Int, readsInPlace: Bool) -> Int {
        if mapsrace_stop_signal() != 0 {
            outcome.insert(.interrupted)
            errno = EINTR
            return -1
        }
        guard chunkCount < chunks.count, bytes.count - bytesUsed >= requested else {
            outcome.insert(.bufferFull)
            errno = ENOBUFS
            return -1
        }
        let tBegin = monotonicNanoseconds()
        let returned = read(fd, destination, requested)
        let code = returned < 0 ? errno : 0
        let tEnd = monotonicNanoseconds()
        if returned > 0 && !readsInPlace {
            (bytes.baseAddress! + bytesUsed).copyMemory(from: destination, byteCount: returned)
        }
        chunks[chunkCount] = ReaderChunkEntry(
            snapshot: snapshotIndex, sequence: sequence, offset: offset, requested: UInt64(requested),
            returned: Int64(returned), errno: code, reserved: 0, tBegin: tBegin, tEnd: tEnd,
            byteOffset: UInt64(bytesUsed))
        chunkCount += 1
        sequence += 1
        if returned > 0 {
            bytesUsed += returned
            offset += UInt64(returned)
        } else if returned == 0 {
            outcome.insert(.reachedEOF)
        } else {
            outcome.insert(.failed)
            failureErrno = code
            errno = code
        }
        return returned
    }

    /// `read:SIZE` and `cat`: read(2) straight into the byte buffer.
    private func readLoop(requestBytes: Int) {
        while loggedRead(into: bytes.baseAddress! + bytesUsed, requested: requestBytes, readsInPlace: true) > 0 {}
    }

    /// A FILE whose reads are this reader's logged read(2), buffered like
    /// glibc buffers procfs files (1024 bytes, from st_blksize). fgets on it
    /// goes through glibc's own underflow, so its reads are a real FILE's.
    private func openLoggedStream() -> UnsafeMutablePointer<FILE>? {
        let cookie = Unmanaged.passUnretained(self).toOpaque()
        guard let stream = mapsrace_open_logged_stream(cookie, { cookie, buffer, size in
            guard let cookie, let buffer else { return -1 }
            let reader = Unmanaged<MapsReader>.fromOpaque(cookie).takeUnretainedValue()
            return reader.loggedRead(into: buffer, requested: size, readsInPlace: false)
        }) else {
            failureErrno = errno
            outcome.insert(.failed)
            return nil
        }
        setvbuf(stream, stdioBuffer, _IOFBF, ReaderStrategy.procfsStdioBufferBytes)
        return stream
    }

    /// Chromium's ReadFileToString for a file whose stat size is 0: fread
    /// 4 KiB, then 64 KiB at a time until a short read.
    private func chromiumLoop() {
        var stream = GlibcFileReadBuffer(buffer: UnsafeMutableRawPointer(stdioBuffer))
        var chunkBytes = ReaderStrategy.chromiumFirstChunkBytes
        while true {
            let got = fread(into: callerBuffer, count: chunkBytes, from: &stream)
            if got < chunkBytes || stream.endOfFile || stream.failed { break }
            chunkBytes = ReaderStrategy.chromiumNextChunkBytes
        }
    }

    /// fread(3) on a FILE opened on the maps, exactly as glibc issues its
    /// read(2) calls (libio `_IO_file_xsgetn`): what the buffer holds is
    /// copied; a remainder smaller than the buffer refills the buffer (one
    /// 1024-byte read); a larger one is read straight into the caller's
    /// memory, rounded down to whole buffer sizes.
    ///
    /// A fopencookie stream cannot be used here: glibc gives cookie streams
    /// the generic `_IO_default_xsgetn`, which only ever reads buffer-sized
    /// chunks, so fread's request sizes would not match a real program's.
    private func fread(
        into destination: UnsafeMutableRawPointer, count: Int, from stream: inout GlibcFileReadBuffer
    ) -> Int {
        var want = count
        var target = destination
        let blockSize = ReaderStrategy.procfsStdioBufferBytes
        while want > 0 {
            let have = stream.end - stream.position
            if want <= have {
                target.copyMemory(from: stream.buffer + stream.position, byteCount: want)
                stream.position += want
                want = 0
                break
            }
            if have > 0 {
                target.copyMemory(from: stream.buffer + stream.position, byteCount: have)
                target += have
                want -= have
                stream.position = stream.end
            }
            if stream.endOfFile || stream.failed { break }
            if want < blockSize {
                // __underflow: refill the whole buffer.
                let got = loggedRead(into: stream.buffer, requested: blockSize, readsInPlace: false)
                if got <= 0 {
                    if got == 0 { stream.endOfFile = true } else { stream.failed = true }
                    break
                }
                stream.position = 0
                stream.end = got
                continue
            }
            stream.position = 0
            stream.end = 0
            let request = blockSize >= 128 ? want - want % blockSize : want
            let got = loggedRead(into: target, requested: request, readsInPlace: false)
            if got <= 0 {
                if got == 0 { stream.endOfFile = true } else { stream.failed = true }
                break
            }
            target += got
            want -= got
        }
        return count - want
    }

    /// procps pmap: fgets into a 1024-byte line buffer until end of file.
    private func pmapLoop() {
        guard let stream = openLoggedStream() else { return }
        let line = callerBuffer.assumingMemoryBound(to: CChar.self)
        while fgets(line, 1024, stream) != nil {}
        fclose(stream)
    }

    /// Writes the tables and bytes to the log fd, the header last.
    func handOverLog() throws(RecordingError) {
        let headerBytes = MemoryLayout<ReaderLogHeader>.stride
        let snapshotBytes = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: snapshots[0..<snapshotCount]))
        let chunkBytes = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: chunks[0..<chunkCount]))
        let returnedBytes = UnsafeRawBufferPointer(rebasing: bytes[0..<bytesUsed])
        var position = headerBytes
        for part in [snapshotBytes, chunkBytes, returnedBytes] {
            if let failure = writeFully(configuration.logFD, part, at: position) {
                throw .systemCallFailed("writing the reader log", errno: failure.code)
            }
            position += part.count
        }
        let signal = mapsrace_stop_signal()
        var header = ReaderLogHeader(
            magic: ReaderLogHeader.expectedMagic,
            snapshotStride: UInt64(MemoryLayout<ReaderSnapshotEntry>.stride),
            chunkStride: UInt64(MemoryLayout<ReaderChunkEntry>.stride),
            snapshotCount: UInt64(snapshotCount), chunkCount: UInt64(chunkCount), byteCount: UInt64(bytesUsed),
            interrupted: signal != 0 ? 1 : 0, signal: UInt64(signal))
        let failure = withUnsafeBytes(of: &header) { writeFully(configuration.logFD, $0, at: 0) }
        if let failure {
            throw .systemCallFailed("writing the reader log header", errno: failure.code)
        }
    }
}
