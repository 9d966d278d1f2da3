import MapsSystem
import CZstd

#if canImport(Glibc)
import Glibc
#endif

/// Streams the records of a trace, one block (zstd frame) in memory at a time.
///
/// Two ways to walk the records, both with the same validation and errors;
/// use one of them per reader:
/// - `nextView()` borrows: read chunk and quiescent fragment bytes point into
///   the decompressed block, fixed-size records come as plain structs, and
///   nothing is allocated per record. A view is valid until the next call.
/// - `next()` owns: every record is a `TraceRecord` with its own storage, and
///   a quiescent maps text comes whole, once its last fragment was read.
///
/// A block's records are handed out only after zstd verified its content
/// checksum. A file cut inside a block yields every record of the complete
/// blocks before the cut, then `nil`, with `completion == .truncated(...)`.
public final class TraceReader {
    public let limits: TraceLimits
    /// The file, or "<memory>" for in-memory traces.
    public let path: String
    public private(set) var header: TraceHeader?
    /// How the trace ended; meaningful once `next()` or `nextView()` returned nil.
    public private(set) var completion: TraceCompletion = .missingTrailer
    /// The preamble's format version (1 or 2), 0 before it was read.
    public private(set) var formatVersion: UInt32 = 0
    public private(set) var blocksRead = 0
    /// Records handed out, counting a quiescent maps text once (as `next()`
    /// returns it), not once per fragment.
    @exclusivity(unchecked) public private(set) var recordsRead = 0
    /// Records of unknown kinds >= 0x40 that were skipped.
    @exclusivity(unchecked) public private(set) var unknownRecordsSkipped = 0
    /// Framed and checked but not decoded nor handed out: the records of a
    /// traced recording (processes, syscalls, ...), for a pass that reads
    /// only the snapshots of a trace already read whole.
    @exclusivity(unchecked) public var skipsTracedRecords = false
    /// Compressed bytes consumed so far: the file size once the end was reached cleanly.
    public var compressedBytesRead: UInt64 { inputFileOffset + UInt64(inputStart) }
    /// Decompressed bytes of the blocks read so far.
    public private(set) var rawBytesRead: UInt64 = 0

    private var input: CompressedInput
    private let decompressor: OpaquePointer?
    private var inputStart: Int { input.start }
    private var inputFileOffset: UInt64 { input.fileOffset }

    // The per-record state below is only ever touched by this class's own
    // methods, one at a time; `@exclusivity(unchecked)` spares the hot path
    // a runtime access check per field per record.

    /// The decompressed block, reused from block to block. It is allocated
    /// `blockSlack` bytes longer than `blockCapacity` (and those bytes are
    /// initialised) so that field decoding may load 8 bytes at once near the
    /// end of the block; nothing past `blockLength` is ever decoded.
    @exclusivity(unchecked) private var block: UnsafeMutableRawPointer?
    private var blockCapacity = 0
    @exclusivity(unchecked) private var blockLength = 0
    @exclusivity(unchecked) private var blockPosition = 0
    /// Raw-stream offset of the current block's first byte.
    @exclusivity(unchecked) private var blockRawOffset: UInt64 = 0

    @exclusivity(unchecked) private var originNs: UInt64 = 0
    /// `header != nil`, without copying the header on every record.
    @exclusivity(unchecked) private var headerSeen = false
    @exclusivity(unchecked) private var trailerSeen = false
    @exclusivity(unchecked) private var reachedEnd = false
    /// The quiescent maps text whose fragments are being read, if any.
    @exclusivity(unchecked) private var pendingText: PendingQuiescentText?
    /// Reassembles quiescent maps texts for `next()`.
    private var assembler = QuiescentTextAssembler()

    public convenience init(path: String, limits: TraceLimits = .standard) throws(TraceError) {
        let descriptor: Int32
        switch openFile(path, O_RDONLY) {
        case .success(let opened): descriptor = opened
        case .failure(let code): throw .io(path: path, errno: code.rawValue)
        }
        self.init(descriptor: descriptor, path: path, limits: limits)
    }

    /// Reads the open `descriptor` from where it stands, and closes it when
    /// done; `path` names it in errors.
    public init(descriptor: Int32, path: String, limits: TraceLimits = .standard) {
        self.path = path
        self.limits = limits
        input = CompressedInput(source: .file(descriptor), path: path)
        decompressor = ZSTD_createDCtx()
    }

    /// Whether the input can be opened and read again from its start: a
    /// regular file, or bytes in memory. A pipe, a FIFO, a terminal or a
    /// socket cannot; see `copyInput(to:)`.
    public var inputIsRereadable: Bool {
        guard case .file(let descriptor) = input.source else { return true }
        var status = stat()
        return fstat(descriptor, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }

    /// From now on, every compressed byte this reader reads is also written
    /// to `descriptor` (which stays the caller's), so that an input that can
    /// be read only once (a pipe) can be read again from the copy. Call
    /// before the first record.
    public func copyInput(to descriptor: Int32, named name: String) {
        input.copy = (descriptor, name)
    }

    public init(bytes: [UInt8], limits: TraceLimits = .standard) {
        path = "<memory>"
        self.limits = limits
        input = CompressedInput(source: .memory(bytes, consumed: 0), path: path)
        decompressor = ZSTD_createDCtx()
    }

    deinit {
        ZSTD_freeDCtx(decompressor)
        free(block)
        input.close()
        input.release()
    }

    /// The next record, borrowed, or nil at the end of what can be read (see
    /// `completion`). Byte buffers in the view are valid until the next call.
    public func nextView() throws(TraceError) -> TraceRecordView? {
        while true {
            if blockPosition < blockLength {
                if let view = try decodeRecord() { return view }
                continue
            }
            if reachedEnd { return nil }
            guard try loadNextBlock() else {
                reachedEnd = true
                input.close()
                return nil
            }
        }
    }

    /// The next record, owned, or nil at the end of what can be read (see
    /// `completion`).
    public func next() throws(TraceError) -> TraceRecord? {
        while let view = try nextView() {
            switch view {
            case .header:
                if let header { return .header(header) }
            case .arena(let arena):
                return .arena(arena)
            case .mutation(let mutation):
                return .mutation(mutation)
            case .snapshotBegin(let begin):
                return .snapshotBegin(begin.record)
            case .snapshotEnd(let end):
                return .snapshotEnd(end)
            case .readChunk(let chunk):
                return .readChunk(chunk.record)
            case .quiescentFragment(let fragment):
                if let maps = assembler.add(fragment) { return .quiescentMaps(maps) }
            case .pause(let pause):
                return .pause(pause)
            case .trailer(let trailer):
                return .trailer(trailer)
            case .traced(let traced):
                return .traced(traced)
            }
        }
        return nil
    }

    /// Throws `.truncated` if the trace was cut; call after `next()` returned nil
    /// when a partial trace is not good enough.
    public func requireComplete() throws(TraceError) {
        if case .truncated(let cut) = completion { throw .truncated(cut) }
    }

    // MARK: - Blocks

    /// Decompresses the next frame into `block`. Returns false at the end of
    /// the file (clean or cut), having set `completion`.
    private func loadNextBlock() throws(TraceError) -> Bool {
        let blockIndex = blocksRead
        let frameOffset = compressedBytesRead
        let frameHeaderMax = 18
        try input.ensure(frameHeaderMax)
        let available = input.available
        if available == 0 {
            guard blockIndex > 0 else { throw .notATrace("it is empty") }
            // Complete blocks that never got to the header (only the
            // preamble, say) hold nothing of a trace.
            guard headerSeen else { throw .notATrace("it has no header record") }
            completion = trailerSeen ? .complete : .missingTrailer
            pendingText = nil
            return false
        }
        func truncated() -> Bool {
            pendingText = nil
            completion = .truncated(TraceTruncation(
                blocksRecovered: blocksRead, recordsRecovered: recordsRead, byteOffset: frameOffset))
            return false
        }
        func formatViolation(_ reason: String) -> TraceError {
            blockIndex == 0
                ? .notATrace(reason)
                : .malformedBlock(block: blockIndex, byteOffset: frameOffset, reason: reason)
        }
        guard available >= 4 else {
            if blockIndex == 0 { throw .notATrace("it is only \(available) bytes long") }
            return truncated()
        }
        let magic = input.pointer.loadUnaligned(as: UInt32.self).littleEndian
        guard magic == 0xFD2F_B528 else {
            throw formatViolation(blockIndex == 0 ? "it does not start with a zstd frame" : "trailing bytes that are not a zstd frame")
        }
        // Every frame carries a checksum of its content (Frame_Header_Descriptor
        // bit 2): without one, damage to the frame could go unnoticed.
        guard available >= 5 else { return truncated() }
        guard input.pointer.load(fromByteOffset: 4, as: UInt8.self) & 0x04 != 0 else {
            throw .corruptBlock(
                block: blockIndex, byteOffset: frameOffset,
                reason: "the frame has no content checksum (every frame of a trace has one)")
        }
        let contentSize = ZSTD_getFrameContentSize(input.pointer, available)
        if contentSize == ZSTD_CONTENTSIZE_ERROR_VALUE {
            if available < frameHeaderMax && input.exhausted { return truncated() }
            throw .corruptBlock(block: blockIndex, byteOffset: frameOffset, reason: "invalid zstd frame header")
        }
        guard contentSize != ZSTD_CONTENTSIZE_UNKNOWN_VALUE else {
            throw formatViolation("a zstd frame that does not record its content size")
        }
        guard contentSize <= UInt64(limits.maxBlockRawSize) else {
            throw formatViolation("a zstd frame of \(contentSize) bytes, over the block limit of \(limits.maxBlockRawSize)")
        }
        let rawSize = Int(contentSize)
        ensureBlockCapacity(rawSize)
        try bufferWholeFrame(atMost: ZSTD_compressBound(rawSize) + frameHeaderMax + 4)

        var output = ZSTD_outBuffer(dst: block, size: rawSize, pos: 0)
        while true {
            var source = ZSTD_inBuffer(src: input.pointer, size: input.available, pos: 0)
            let producedBefore = output.pos
            let result = ZSTD_decompressStream(decompressor, &output, &source)
            input.consume(source.pos)
            if ZSTD_isError(result) != 0 {
                ZSTD_DCtx_reset(decompressor, ZSTD_reset_session_only)
                if ZSTD_getErrorCode(result) == ZSTD_error_checksum_wrong {
                    throw .checksumMismatch(block: blockIndex, byteOffset: frameOffset)
                }
                throw .corruptBlock(
                    block: blockIndex, byteOffset: frameOffset, reason: String(cString: ZSTD_getErrorName(result)))
            }
            if result == 0 { break }
            if input.available == 0 {
                try input.ensure(1)
                if input.available == 0 {
                    ZSTD_DCtx_reset(decompressor, ZSTD_reset_session_only)
                    return truncated()
                }
            } else if source.pos == 0 && output.pos == producedBefore {
                ZSTD_DCtx_reset(decompressor, ZSTD_reset_session_only)
                throw .corruptBlock(
                    block: blockIndex, byteOffset: frameOffset,
                    reason: "the frame decodes to more than its declared \(rawSize) bytes")
            }
        }
        guard output.pos == rawSize else {
            throw .corruptBlock(
                block: blockIndex, byteOffset: frameOffset,
                reason: "the frame decodes to \(output.pos) bytes, not its declared \(rawSize)")
        }
        if let block { memset(block + rawSize, 0, blockSlack) }
        blockRawOffset = rawBytesRead
        rawBytesRead += UInt64(rawSize)
        blockLength = rawSize
        blockPosition = 0
        blocksRead += 1
        if blockIndex == 0 { try readPreamble() }
        return true
    }

    /// Gets the whole frame at the front of the input buffer, so that zstd
    /// decodes it in a single pass straight into `block`. Reads only as far
    /// as the frame goes (its compressed size is found from its block
    /// headers), so the input buffer stays small and cache-warm. A frame that
    /// is cut or corrupt is left to the decompression loop to report.
    private func bufferWholeFrame(atMost bound: Int) throws(TraceError) {
        var wanted = min(bound, max(input.available, 64 * 1024))
        while true {
            try input.ensure(wanted)
            let size = ZSTD_findFrameCompressedSize(input.pointer, input.available)
            guard ZSTD_isError(size) != 0 else { return }
            guard ZSTD_getErrorCode(size) == ZSTD_error_srcSize_wrong,
                  !input.exhausted, input.available < bound
            else { return }
            wanted = min(bound, input.available * 2)
        }
    }

    private func readPreamble() throws(TraceError) {
        guard let block, blockLength >= tracePreambleSize,
              traceMagic.withUnsafeBytes({ magic in
                  UnsafeRawBufferPointer(start: block, count: magic.count).elementsEqual(magic)
              })
        else {
            throw .notATrace("its first block does not start with \"MAPSRACE\"")
        }
        let version = (block + traceMagic.count).loadUnaligned(as: UInt32.self).littleEndian
        guard readableTraceFormatVersions.contains(version) else { throw .unsupportedVersion(version) }
        formatVersion = version
        blockPosition = tracePreambleSize
    }

    private func ensureBlockCapacity(_ size: Int) {
        guard size > blockCapacity else { return }
        free(block)
        blockCapacity = max(size, 64 * 1024)
        guard let memory = malloc(blockCapacity + blockSlack) else {
            fatalError("out of memory allocating a \(size)-byte block")
        }
        block = memory
    }

    // MARK: - Records

    /// Decodes the record at `blockPosition`; nil for records that yield
    /// nothing (skipped kinds).
    @inline(__always) private func decodeRecord() throws(TraceError) -> TraceRecordView? {
        guard let block else { return nil }
        let blockStart = UnsafeRawPointer(block)
        let blockEnd = blockStart + blockLength
        let readableEnd = blockEnd + blockSlack
        let recordOffset = blockRawOffset &+ UInt64(blockPosition)
        // One cursor reads the framing, then is narrowed to the payload.
        var payload = PayloadCursor(
            blockStart + blockPosition, blockEnd, readableEnd: readableEnd,
            recordOffset: recordOffset, kind: 0, originNs: originNs)
        let kind = try payload.byte()
        payload.kind = kind
        let payloadLength = try payload.leb()
        guard payloadLength <= UInt64(limits.maxRecordPayload) else {
            throw payload.malformed("its payload length \(payloadLength) is over the limit of \(limits.maxRecordPayload)")
        }
        guard payloadLength <= UInt64(payload.remaining) else {
            throw payload.malformed(
                "its payload of \(payloadLength) bytes runs past the end of its block (\(payload.remaining) bytes left)")
        }
        payload.end = payload.position + Int(payloadLength)
        blockPosition = payload.end - blockStart

        // Nothing, not even a record of a kind to skip, may come between the
        // fragments of a quiescent maps text.
        if let pending = pendingText, kind != RecordKind.quiescentFragment.rawValue {
            throw payload.malformed(
                "it interrupts the \(pending.role) quiescent maps text after \(pending.received) of \(pending.totalLength) bytes")
        }
        guard let known = RecordKind(rawValue: kind), !(known.isTraced && formatVersion < 2) else {
            if kind >= RecordKind.firstSkippableKind && headerSeen && !trailerSeen {
                unknownRecordsSkipped += 1
                return nil
            }
            throw payload.malformed("unknown record kind \(kind)")
        }
        if !headerSeen && known != .header { throw payload.malformed("it comes before the header") }
        if trailerSeen { throw payload.malformed("it follows the trailer") }
        if skipsTracedRecords, known.isTraced { return nil }

        // The two kinds that make up nearly every trace are decoded here, in
        // line; the rest out of line, to keep the hot path short.
        switch known {
        case .mutation:
            let mutation = try payload.mutation()
            recordsRead += 1
            return .mutation(mutation)
        case .readChunk:
            let chunk = try payload.readChunk(limits: limits)
            recordsRead += 1
            return .readChunk(chunk)
        default:
            let view = try decodeOtherRecord(known, &payload)
            // A quiescent maps text counts as one record, when its last fragment arrives.
            if case .quiescentFragment(let fragment) = view, !fragment.completesText { return view }
            recordsRead += 1
            return view
        }
    }

    /// Decodes any record (the hot kinds too, so that the switch stays
    /// exhaustive); called for all but mutations and read chunks.
    @inline(never)
    private func decodeOtherRecord(_ known: RecordKind, _ payload: inout PayloadCursor) throws(TraceError) -> TraceRecordView {
        switch known {
        case .mutation:
            return .mutation(try payload.mutation())
        case .readChunk:
            return .readChunk(try payload.readChunk(limits: limits))
        case .snapshotBegin:
            return .snapshotBegin(SnapshotBeginView(
                index: try payload.uint32("snapshot index"),
                tBegin: try payload.time(),
                strategyUTF8: try payload.stringBytes("strategy", limits: limits)))
        case .snapshotEnd:
            return .snapshotEnd(SnapshotEnd(
                index: try payload.uint32("snapshot index"),
                tEnd: try payload.time(),
                flags: SnapshotFlags(rawValue: try payload.uint32("flags")),
                errno: try payload.int32("errno")))
        case .arena:
            return .arena(ArenaRecord(start: try payload.leb(), end: try payload.leb()))
        case .quiescentFragment:
            return .quiescentFragment(try decodeQuiescentFragment(&payload))
        case .header:
            guard !headerSeen else { throw payload.malformed("a trace has exactly one header") }
            var decoded = try payload.header(limits: limits)
            decoded.formatVersion = formatVersion
            header = decoded
            headerSeen = true
            originNs = decoded.originNs
            return .header
        case .pause:
            return .pause(try payload.pause())
        case .trailer:
            let trailer = try payload.trailer()
            trailerSeen = true
            return .trailer(trailer)
        case .tracedProcess, .tracedExec, .tracedFork, .tracedSyscall, .fileIdentity, .snapshotSource, .addressSpaceMaps,
            .sharedMemoryAttach, .anonymousName, .procmapQuery:
            return .traced(try payload.traced(known, limits: limits))
        }
    }

    /// Checks a fragment against the text it starts or continues.
    private func decodeQuiescentFragment(_ payload: inout PayloadCursor) throws(TraceError) -> QuiescentFragmentView {
        let roleCode = try payload.leb()
        guard let role = UInt8(exactly: roleCode).flatMap(QuiescentRole.init(rawValue:)) else {
            throw payload.malformed("unknown quiescent maps role \(roleCode)")
        }
        let tBegin = try payload.time()
        let tEnd = try payload.time(after: tBegin)
        let total = try payload.leb()
        guard total <= UInt64(limits.maxQuiescentText) else {
            throw payload.malformed("the quiescent maps text claims \(total) bytes, over the limit of \(limits.maxQuiescentText)")
        }
        let fragmentOffset = try payload.leb()
        let fragmentLength = try payload.length("fragment length", limit: limits.maxRecordPayload)
        let totalLength = Int(total)
        let expectedOffset = pendingText?.received ?? 0
        guard fragmentOffset == UInt64(expectedOffset) else {
            throw payload.malformed("fragment at text offset \(fragmentOffset), expected \(expectedOffset)")
        }
        guard fragmentLength <= totalLength - expectedOffset else {
            throw payload.malformed("fragment of \(fragmentLength) bytes overruns the text's \(totalLength) bytes")
        }
        guard fragmentLength > 0 || totalLength == 0 else {
            throw payload.malformed("empty fragment of a non-empty text")
        }
        if let pending = pendingText {
            guard pending.role == role, pending.tBegin == tBegin, pending.tEnd == tEnd,
                  pending.totalLength == totalLength
            else { throw payload.malformed("fragment does not belong to the text it continues") }
        }
        let received = expectedOffset + fragmentLength
        pendingText = received == totalLength
            ? nil
            : PendingQuiescentText(role: role, tBegin: tBegin, tEnd: tEnd, totalLength: totalLength, received: received)
        return QuiescentFragmentView(
            role: role, tBegin: tBegin, tEnd: tEnd, totalLength: totalLength,
            fragmentOffset: expectedOffset, bytes: payload.view(fragmentLength))
    }
}

/// Bytes allocated (and initialised) past the end of a decompressed block, so
/// that an 8-byte load starting at any byte of the block stays in bounds.
let blockSlack = 16

/// The quiescent maps text whose fragments are being read.
private struct PendingQuiescentText {
    var role: QuiescentRole
    var tBegin: UInt64
    var tEnd: UInt64
    var totalLength: Int
    var received: Int
}

// zstd.h defines these as macros Swift does not import.
private let ZSTD_CONTENTSIZE_UNKNOWN_VALUE: UInt64 = 0 &- 1
private let ZSTD_CONTENTSIZE_ERROR_VALUE: UInt64 = 0 &- 2

/// The compressed bytes of a trace, buffered: `[start, end)` of `buffer` are
/// read but not yet consumed; `fileOffset` is the file offset of `buffer[0]`.
private struct CompressedInput {
    enum Source {
        case file(Int32)
        case memory([UInt8], consumed: Int)
        case closed
    }

    var source: Source
    let path: String
    /// Where every byte read from the source is copied too, and its name for errors.
    var copy: (descriptor: Int32, name: String)?
    private(set) var buffer: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    private(set) var start = 0
    private(set) var end = 0
    private(set) var fileOffset: UInt64 = 0
    private(set) var exhausted = false

    init(source: Source, path: String) {
        self.source = source
        self.path = path
    }

    var available: Int { end - start }
    var pointer: UnsafeRawPointer { UnsafeRawPointer(buffer! + start) }

    mutating func consume(_ count: Int) { start += count }

    /// Makes at least `count` bytes available unless the file ends first.
    mutating func ensure(_ count: Int) throws(TraceError) {
        guard available < count, !exhausted else { return }
        if start + count > capacity {
            if count > capacity {
                // Room for several frames (a 1 MiB block compresses to
                // ~100 KiB), so that compacting (moving the unread rest of
                // the buffer to its front) moves little and happens rarely.
                let newCapacity = max(count * 2, 1 << 20)
                guard let memory = malloc(newCapacity) else { fatalError("out of memory allocating \(newCapacity) bytes") }
                if let buffer, available > 0 { memory.copyMemory(from: buffer + start, byteCount: available) }
                free(buffer)
                buffer = memory
                capacity = newCapacity
            } else if let buffer, available > 0 {
                memmove(buffer, buffer + start, available)
            }
            fileOffset += UInt64(start)
            end = available
            start = 0
        }
        while available < count && !exhausted {
            let got = try fill(buffer! + end, capacity - end)
            if got == 0 { exhausted = true } else {
                if let copy { try write(UnsafeRawBufferPointer(start: buffer! + end, count: got), to: copy) }
                end += got
            }
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, to copy: (descriptor: Int32, name: String)) throws(TraceError) {
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(copy.descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written > 0 { done += written; continue }
            if written < 0 && errno == EINTR { continue }
            throw .io(path: copy.name, errno: written < 0 ? errno : ENOSPC)
        }
    }

    private mutating func fill(_ destination: UnsafeMutableRawPointer, _ room: Int) throws(TraceError) -> Int {
        switch source {
        case .file(let descriptor):
            switch readSome(descriptor, into: UnsafeMutableRawBufferPointer(start: destination, count: room)) {
            case .success(let got): return got
            case .failure(let code): throw .io(path: path, errno: code.rawValue)
            }
        case .memory(let bytes, let consumed):
            let count = min(room, bytes.count - consumed)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { all in
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[consumed ..< consumed + count]).baseAddress!, byteCount: count)
            }
            source = .memory(bytes, consumed: consumed + count)
            return count
        case .closed:
            return 0
        }
    }

    mutating func close() {
        if case .file(let descriptor) = source { Glibc.close(descriptor) }
        source = .closed
    }

    func release() { free(buffer) }
}
