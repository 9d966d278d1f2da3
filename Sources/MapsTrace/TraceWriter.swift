import MapsSystem
import CZstd

#if canImport(Glibc)
import Glibc
#endif

/// Writes a trace: records are encoded into one block in memory; each block
/// that fills is compressed into its own zstd frame (content size and content
/// checksum recorded) and written out at once. A record never spans blocks, so
/// a file cut anywhere still holds every complete block before the cut.
///
/// The first record must be the header; its `originNs` is time zero for every
/// timestamp after it. Not thread-safe: one writer, one thread at a time.
public final class TraceWriter {
    private let path: String
    private var fileDescriptor: Int32
    private let closeWhenFinished: Bool
    private let blockSize: Int
    private let compressor: BlockCompressor
    private var block: ByteBuffer
    private var payload = ByteBuffer(capacity: 64 * 1024)
    private var encoder = RecordEncoder()
    private var headerWritten = false
    private var trailerWritten = false
    private var finished = false
    /// Record payloads in `block`, not yet on disk.
    private var payloadsInBlock = 0
    /// Records whose last payload is in `block` (a quiescent maps text counts
    /// where its last fragment is, as a reader returns it there).
    private var recordsCompletedInBlock = 0

    public private(set) var compressedBytesWritten: UInt64 = 0
    /// Raw (decompressed) bytes of the blocks written so far.
    public private(set) var rawBytesWritten: UInt64 = 0
    public private(set) var blocksWritten = 0
    /// Records counted as written once their block is on disk.
    public private(set) var recordsWritten = 0
    /// Compressed end offset of every block written (for tests and tools).
    private(set) var blockEnds: [(compressedEnd: UInt64, recordsThrough: Int)] = []

    /// Creates (or truncates) the file at `path`.
    public convenience init(path: String, blockSize: Int = 1 << 20, compressionLevel: Int32 = 3) throws(TraceError) {
        let descriptor: Int32
        switch openFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644) {
        case .success(let opened): descriptor = opened
        case .failure(let code): throw .io(path: path, errno: code.rawValue)
        }
        try self.init(
            fileDescriptor: descriptor, path: path, closeWhenFinished: true,
            blockSize: blockSize, compressionLevel: compressionLevel)
    }

    /// Writes to an already open descriptor (a pipe, a memfd, a file).
    public convenience init(
        fileDescriptor: Int32, closeWhenFinished: Bool, blockSize: Int = 1 << 20, compressionLevel: Int32 = 3
    ) throws(TraceError) {
        try self.init(
            fileDescriptor: fileDescriptor, path: "fd \(fileDescriptor)", closeWhenFinished: closeWhenFinished,
            blockSize: blockSize, compressionLevel: compressionLevel)
    }

    private init(
        fileDescriptor: Int32, path: String, closeWhenFinished: Bool, blockSize: Int, compressionLevel: Int32
    ) throws(TraceError) {
        self.path = path
        self.fileDescriptor = fileDescriptor
        self.closeWhenFinished = closeWhenFinished
        self.blockSize = max(blockSize, 64)
        guard let compressor = BlockCompressor(level: compressionLevel) else {
            if closeWhenFinished { close(fileDescriptor) }
            throw .io(path: path, errno: ENOMEM)
        }
        self.compressor = compressor
        block = ByteBuffer(capacity: min(self.blockSize, 1 << 20) + 64)
        block.append(traceMagic)
        block.appendUInt32LE(traceFormatVersion)
    }

    deinit {
        if !finished, closeWhenFinished, fileDescriptor >= 0 { close(fileDescriptor) }
    }

    public func append(_ record: TraceRecord) throws(TraceError) {
        guard !finished else { throw .io(path: path, errno: EBADF) }
        if case .header(let header) = record {
            guard !headerWritten else { throw misuse(1, "a trace has exactly one header") }
            encoder.originNs = header.originNs
            headerWritten = true
        } else if !headerWritten {
            throw misuse(kindOf(record), "the header must be the first record")
        }
        guard !trailerWritten else { throw misuse(kindOf(record), "nothing may follow the trailer") }

        switch record {
        case .header(let header):
            payload.removeAll()
            encoder.encodeHeader(header, into: &payload)
            try appendPayload(kind: .header)
        case .arena(let arena):
            payload.removeAll()
            encoder.encodeArena(arena, into: &payload)
            try appendPayload(kind: .arena)
        case .mutation(let mutation):
            payload.removeAll()
            encoder.encodeMutation(mutation, into: &payload)
            try appendPayload(kind: .mutation)
        case .snapshotBegin(let begin):
            payload.removeAll()
            encoder.encodeSnapshotBegin(begin, into: &payload)
            try appendPayload(kind: .snapshotBegin)
        case .snapshotEnd(let end):
            payload.removeAll()
            encoder.encodeSnapshotEnd(end, into: &payload)
            try appendPayload(kind: .snapshotEnd)
        case .readChunk(let chunk):
            payload.removeAll()
            encoder.encodeReadChunk(chunk, into: &payload)
            try appendPayload(kind: .readChunk)
        case .quiescentMaps(let maps):
            var offset = 0
            repeat {
                let length = min(quiescentFragmentSize, maps.text.count - offset)
                payload.removeAll()
                encoder.encodeQuiescentFragment(maps, fragmentOffset: offset, fragmentLength: length, into: &payload)
                offset += length
                try appendPayload(kind: .quiescentFragment, completesRecord: offset == maps.text.count)
            } while offset < maps.text.count
        case .pause(let pause):
            payload.removeAll()
            encoder.encodePause(pause, into: &payload)
            try appendPayload(kind: .pause)
        case .trailer(let trailer):
            payload.removeAll()
            encoder.encodeTrailer(trailer, into: &payload)
            try appendPayload(kind: .trailer)
            trailerWritten = true
        case .traced(let traced):
            payload.removeAll()
            let kind = encoder.encodeTraced(traced, into: &payload)
            try appendPayload(kind: kind)
        }
    }

    /// Ends the current block now: the next record starts a frame of its own.
    public func endBlock() throws(TraceError) {
        guard !finished, payloadsInBlock > 0 else { return }
        try flushBlock()
    }

    /// `trailer` as one frame holding only it: what `append(.trailer)` and
    /// `finish()` write right after `endBlock()`. A recorder that learns
    /// after the fact that its trace was interrupted writes this over the
    /// last frame.
    public func standaloneFrame(for trailer: TraceTrailer) -> [UInt8] {
        var body = ByteBuffer(capacity: 128)
        encoder.encodeTrailer(trailer, into: &body)
        var raw = ByteBuffer(capacity: 160)
        raw.append(byte: RecordKind.trailer.rawValue)
        raw.appendLEB(UInt64(body.count))
        raw.append(body.bytes)
        return BlockCompressor.frame(Array(raw.bytes))
    }

    /// Writes the last block and closes the descriptor if it owns it.
    /// Calling it again does nothing.
    public func finish() throws(TraceError) {
        guard !finished else { return }
        finished = true
        defer {
            if closeWhenFinished { close(fileDescriptor) }
            fileDescriptor = -1
        }
        if payloadsInBlock > 0 || blocksWritten == 0 { try flushBlock() }
    }

    // MARK: - Blocks

    private func appendPayload(kind: RecordKind, completesRecord: Bool = true) throws(TraceError) {
        let payloadLength = payload.count
        guard payloadLength <= TraceLimits.standard.maxRecordPayload else {
            throw misuse(kind.rawValue, "payload of \(payloadLength) bytes exceeds the limit of \(TraceLimits.standard.maxRecordPayload)")
        }
        let recordLength = 1 + lebLength(UInt64(payloadLength)) + payloadLength
        if payloadsInBlock > 0 && block.count + recordLength > blockSize {
            try flushBlock()
        }
        block.append(byte: kind.rawValue)
        block.appendLEB(UInt64(payloadLength))
        block.append(payload.bytes)
        payloadsInBlock += 1
        if completesRecord { recordsCompletedInBlock += 1 }
        if block.count >= blockSize { try flushBlock() }
    }

    private func flushBlock() throws(TraceError) {
        let compressed: UnsafeRawBufferPointer
        do {
            compressed = try compressor.compress(block.bytes)
        } catch {
            throw .io(path: path, errno: EIO)
        }
        try writeAll(compressed)
        compressedBytesWritten += UInt64(compressed.count)
        rawBytesWritten += UInt64(block.count)
        blocksWritten += 1
        recordsWritten += recordsCompletedInBlock
        blockEnds.append((compressedBytesWritten, recordsWritten))
        payloadsInBlock = 0
        recordsCompletedInBlock = 0
        block.removeAll()
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(TraceError) {
        guard bytes.baseAddress != nil else { return }
        if case .failure(let code) = MapsSystem.writeAll(fileDescriptor, bytes) {
            throw .io(path: path, errno: code.rawValue)
        }
    }

    private func misuse(_ kind: UInt8, _ reason: String) -> TraceError {
        .malformedRecord(byteOffset: rawBytesWritten + UInt64(block.count), kind: kind, reason: "cannot write it: \(reason)")
    }

    private func kindOf(_ record: TraceRecord) -> UInt8 {
        switch record {
        case .header: RecordKind.header.rawValue
        case .arena: RecordKind.arena.rawValue
        case .mutation: RecordKind.mutation.rawValue
        case .snapshotBegin: RecordKind.snapshotBegin.rawValue
        case .snapshotEnd: RecordKind.snapshotEnd.rawValue
        case .readChunk: RecordKind.readChunk.rawValue
        case .quiescentMaps: RecordKind.quiescentFragment.rawValue
        case .pause: RecordKind.pause.rawValue
        case .trailer: RecordKind.trailer.rawValue
        case .traced(let traced):
            switch traced {
            case .process: RecordKind.tracedProcess.rawValue
            case .exec: RecordKind.tracedExec.rawValue
            case .fork: RecordKind.tracedFork.rawValue
            case .syscall: RecordKind.tracedSyscall.rawValue
            case .fileIdentity: RecordKind.fileIdentity.rawValue
            case .snapshotSource: RecordKind.snapshotSource.rawValue
            case .addressSpaceMaps: RecordKind.addressSpaceMaps.rawValue
            case .sharedMemoryAttach: RecordKind.sharedMemoryAttach.rawValue
            case .anonymousName: RecordKind.anonymousName.rawValue
            case .procmapQuery: RecordKind.procmapQuery.rawValue
            }
        }
    }
}

/// Compresses one block into one zstd frame with content size and content
/// checksum, reusing its context and output buffer.
final class BlockCompressor {
    struct Failure: Error { var reason: String }

    private let context: OpaquePointer
    private var output: UnsafeMutableRawPointer?
    private var outputCapacity = 0

    init?(level: Int32) {
        guard let context = ZSTD_createCCtx() else { return nil }
        self.context = context
        guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) == 0,
              ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)) == 0,
              ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)) == 0
        else {
            ZSTD_freeCCtx(context)
            return nil
        }
    }

    deinit {
        ZSTD_freeCCtx(context)
        free(output)
    }

    /// The compressed frame; valid until the next call.
    func compress(_ raw: UnsafeRawBufferPointer) throws(Failure) -> UnsafeRawBufferPointer {
        let bound = ZSTD_compressBound(raw.count)
        if bound > outputCapacity {
            free(output)
            output = malloc(bound)
            outputCapacity = output == nil ? 0 : bound
            guard output != nil else { throw Failure(reason: "out of memory") }
        }
        let size = ZSTD_compress2(context, output, outputCapacity, raw.baseAddress, raw.count)
        guard ZSTD_isError(size) == 0 else { throw Failure(reason: String(cString: ZSTD_getErrorName(size))) }
        return UnsafeRawBufferPointer(start: output, count: size)
    }

    /// One frame as a fresh array (tests and tools building traces by hand).
    static func frame(_ raw: [UInt8], level: Int32 = 3) -> [UInt8] {
        guard let compressor = BlockCompressor(level: level) else { return [] }
        return raw.withUnsafeBytes { bytes in
            (try? compressor.compress(bytes)).map { Array($0) } ?? []
        }
    }
}
