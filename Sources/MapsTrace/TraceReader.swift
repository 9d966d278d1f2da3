import CZstd

#if canImport(Glibc)
import Glibc
#endif

/// Streams the records of a trace, one block (zstd frame) in memory at a time.
///
/// A block's records are parsed only after zstd verified its content checksum.
/// A file cut inside a block yields every record of the complete blocks before
/// the cut, then `nil`, with `completion == .truncated(...)`.
public final class TraceReader {
    public let limits: TraceLimits
    /// The file, or "<memory>" for in-memory traces.
    public let path: String
    public private(set) var header: TraceHeader?
    /// How the trace ended; meaningful once `next()` returned nil.
    public private(set) var completion: TraceCompletion = .missingTrailer
    public private(set) var blocksRead = 0
    public private(set) var recordsRead = 0
    /// Records of unknown kinds >= 0x40 that were skipped.
    public private(set) var unknownRecordsSkipped = 0
    /// Compressed bytes consumed so far: the file size once the end was reached cleanly.
    public var compressedBytesRead: UInt64 { inputFileOffset + UInt64(inputStart) }
    /// Decompressed bytes of the blocks read so far.
    public private(set) var rawBytesRead: UInt64 = 0

    private var input: CompressedInput
    private let decompressor: OpaquePointer?
    private var inputStart: Int { input.start }
    private var inputFileOffset: UInt64 { input.fileOffset }

    private var block: UnsafeMutableRawPointer?
    private var blockCapacity = 0
    private var blockLength = 0
    private var blockPosition = 0
    /// Raw-stream offset of the current block's first byte.
    private var blockRawOffset: UInt64 = 0

    private var originNs: UInt64 = 0
    private var trailerSeen = false
    private var reachedEnd = false
    private var pendingMaps: PendingQuiescentMaps?

    public init(path: String, limits: TraceLimits = .standard) throws(TraceError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, errno: errno) }
        self.path = path
        self.limits = limits
        input = CompressedInput(source: .file(descriptor), path: path)
        decompressor = ZSTD_createDCtx()
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

    /// The next record, or nil at the end of what can be read (see `completion`).
    public func next() throws(TraceError) -> TraceRecord? {
        while true {
            if blockPosition < blockLength {
                if let record = try parseRecord() {
                    recordsRead += 1
                    return record
                }
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
            guard blockIndex > 0 else { throw .notATrace("\(path) is empty") }
            completion = trailerSeen ? .complete : .missingTrailer
            if pendingMaps != nil { pendingMaps = nil }
            return false
        }
        func truncated() -> Bool {
            pendingMaps = nil
            completion = .truncated(TraceTruncation(
                blocksRecovered: blocksRead, recordsRecovered: recordsRead, byteOffset: frameOffset))
            return false
        }
        func formatViolation(_ reason: String) -> TraceError {
            blockIndex == 0
                ? .notATrace("\(path): \(reason)")
                : .malformedBlock(block: blockIndex, byteOffset: frameOffset, reason: reason)
        }
        guard available >= 4 else {
            if blockIndex == 0 { throw .notATrace("\(path) is only \(available) bytes long") }
            return truncated()
        }
        let magic = input.pointer.loadUnaligned(as: UInt32.self).littleEndian
        guard magic == 0xFD2F_B528 else {
            throw formatViolation(blockIndex == 0 ? "it does not start with a zstd frame" : "trailing bytes that are not a zstd frame")
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
        // With the whole frame in memory zstd decodes it in a single pass.
        try input.ensure(ZSTD_compressBound(rawSize) + frameHeaderMax + 4)

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
        blockRawOffset = rawBytesRead
        rawBytesRead += UInt64(rawSize)
        blockLength = rawSize
        blockPosition = 0
        blocksRead += 1
        if blockIndex == 0 { try readPreamble() }
        return true
    }

    private func readPreamble() throws(TraceError) {
        guard let block, blockLength >= tracePreambleSize,
              traceMagic.withUnsafeBytes({ magic in
                  UnsafeRawBufferPointer(start: block, count: magic.count).elementsEqual(magic)
              })
        else {
            throw .notATrace("\(path): its first block does not start with \"MAPSRACE\"")
        }
        let version = (block + traceMagic.count).loadUnaligned(as: UInt32.self).littleEndian
        guard version == traceFormatVersion else { throw .unsupportedVersion(version) }
        blockPosition = tracePreambleSize
    }

    private func ensureBlockCapacity(_ size: Int) {
        guard size > blockCapacity else { return }
        free(block)
        blockCapacity = max(size, 64 * 1024)
        guard let memory = malloc(blockCapacity) else { fatalError("out of memory allocating a \(size)-byte block") }
        block = memory
    }

    // MARK: - Records

    /// Parses the record at `blockPosition`; nil for records that yield
    /// nothing by themselves (skipped kinds, non-final quiescent fragments).
    private func parseRecord() throws(TraceError) -> TraceRecord? {
        guard let block else { return nil }
        let recordOffset = blockRawOffset + UInt64(blockPosition)
        let blockEnd = UnsafeRawPointer(block + blockLength)
        var framing = PayloadCursor(
            UnsafeRawPointer(block + blockPosition), blockEnd, recordOffset: recordOffset, kind: 0, originNs: originNs)
        let kind = try framing.byte()
        framing = PayloadCursor(framing.position, blockEnd, recordOffset: recordOffset, kind: kind, originNs: originNs)
        let payloadLength = try framing.leb()
        guard payloadLength <= UInt64(limits.maxRecordPayload) else {
            throw framing.malformed("its payload length \(payloadLength) is over the limit of \(limits.maxRecordPayload)")
        }
        guard payloadLength <= UInt64(framing.remaining) else {
            throw framing.malformed(
                "its payload of \(payloadLength) bytes runs past the end of its block (\(framing.remaining) bytes left)")
        }
        let payloadStart = framing.position
        let payloadEnd = payloadStart + Int(payloadLength)
        blockPosition = payloadEnd - UnsafeRawPointer(block)
        var payload = PayloadCursor(payloadStart, payloadEnd, recordOffset: recordOffset, kind: kind, originNs: originNs)

        guard let known = RecordKind(rawValue: kind) else {
            if kind >= RecordKind.firstSkippableKind && header != nil && !trailerSeen {
                unknownRecordsSkipped += 1
                return nil
            }
            throw payload.malformed("unknown record kind \(kind)")
        }
        if header == nil && known != .header { throw payload.malformed("it comes before the header") }
        if trailerSeen { throw payload.malformed("it follows the trailer") }
        if let pending = pendingMaps, known != .quiescentFragment {
            throw payload.malformed(
                "it interrupts the \(pending.role) quiescent maps text after \(pending.text.count) of \(pending.totalLength) bytes")
        }

        switch known {
        case .header:
            guard header == nil else { throw payload.malformed("a trace has exactly one header") }
            let decoded = try decodeHeader(&payload)
            header = decoded
            originNs = decoded.originNs
            return .header(decoded)
        case .arena:
            return .arena(ArenaRecord(start: try payload.leb(), end: try payload.leb()))
        case .mutation:
            return .mutation(try decodeMutation(&payload))
        case .snapshotBegin:
            return .snapshotBegin(SnapshotBegin(
                index: try payload.uint32("snapshot index"),
                tBegin: try payload.time(),
                strategy: try payload.string("strategy", limits: limits)))
        case .snapshotEnd:
            return .snapshotEnd(SnapshotEnd(
                index: try payload.uint32("snapshot index"),
                tEnd: try payload.time(),
                flags: SnapshotFlags(rawValue: try payload.uint32("flags")),
                errno: try payload.int32("errno")))
        case .readChunk:
            return .readChunk(try decodeReadChunk(&payload))
        case .quiescentFragment:
            return try decodeQuiescentFragment(&payload).map { .quiescentMaps($0) }
        case .trailer:
            let trailer = try decodeTrailer(&payload)
            trailerSeen = true
            return .trailer(trailer)
        }
    }

    private func decodeHeader(_ payload: inout PayloadCursor) throws(TraceError) -> TraceHeader {
        let toolVersion = try payload.string("tool version", limits: limits)
        let kernelRelease = try payload.string("kernel release", limits: limits)
        let kernelVersion = try payload.string("kernel version", limits: limits)
        let machine = try payload.string("machine", limits: limits)
        let pageSize = try payload.leb()
        let clockID = try payload.int32("clock id")
        let clockResolutionNs = try payload.leb()
        let startWallClockNs = try payload.zigzag()
        let origin = try payload.leb()
        let mutatorPID = try payload.int32("mutator pid")
        let readerPID = try payload.int32("reader pid")
        let workload = try payload.string("workload", limits: limits)
        let workloadParameters = try payload.parameters("workload parameters", limits: limits)
        let reader = try payload.string("reader", limits: limits)
        let readerParameters = try payload.parameters("reader parameters", limits: limits)
        let seed = try payload.leb()
        return TraceHeader(
            formatVersion: traceFormatVersion, toolVersion: toolVersion, kernelRelease: kernelRelease,
            kernelVersion: kernelVersion, machine: machine, pageSize: pageSize, clockID: clockID,
            clockResolutionNs: clockResolutionNs, startWallClockNs: startWallClockNs, originNs: origin,
            mutatorPID: mutatorPID, readerPID: readerPID, workload: workload,
            workloadParameters: workloadParameters, reader: reader, readerParameters: readerParameters, seed: seed)
    }

    private func decodeMutation(_ payload: inout PayloadCursor) throws(TraceError) -> MutationRecord {
        let sequence = try payload.leb()
        let kindCode = try payload.leb()
        guard let kind = UInt8(exactly: kindCode).flatMap(MutationKind.init(rawValue:)) else {
            throw payload.malformed("unknown mutation kind \(kindCode)")
        }
        let address = try payload.leb()
        let length = try payload.leb()
        let prot = try payload.int32("prot")
        let flags = try payload.int32("flags")
        let newAddress = try payload.leb()
        let newLength = try payload.leb()
        let result = try payload.zigzag()
        let errno = try payload.int32("errno")
        let tBegin = try payload.time()
        let tEnd = try payload.time(after: tBegin)
        let threadID = try payload.int32("thread id")
        return MutationRecord(
            sequence: sequence, kind: kind, address: address, length: length, prot: prot, flags: flags,
            newAddress: newAddress, newLength: newLength, result: result, errno: errno,
            tBegin: tBegin, tEnd: tEnd, threadID: threadID)
    }

    private func decodeReadChunk(_ payload: inout PayloadCursor) throws(TraceError) -> ReadChunk {
        let snapshot = try payload.uint32("snapshot index")
        let sequence = try payload.uint32("chunk sequence")
        let offset = try payload.leb()
        let requested = try payload.leb()
        let returned = try payload.zigzag()
        let errno = try payload.int32("errno")
        let tBegin = try payload.time()
        let tEnd = try payload.time(after: tBegin)
        let bytes = try payload.bytes("chunk bytes", limit: limits.maxChunkBytes)
        return ReadChunk(
            snapshot: snapshot, sequence: sequence, offset: offset, requested: requested,
            returned: returned, errno: errno, tBegin: tBegin, tEnd: tEnd, bytes: bytes)
    }

    private func decodeQuiescentFragment(_ payload: inout PayloadCursor) throws(TraceError) -> QuiescentMaps? {
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
        let expectedOffset = pendingMaps?.text.count ?? 0
        guard fragmentOffset == UInt64(expectedOffset) else {
            throw payload.malformed("fragment at text offset \(fragmentOffset), expected \(expectedOffset)")
        }
        guard fragmentLength <= totalLength - expectedOffset else {
            throw payload.malformed("fragment of \(fragmentLength) bytes overruns the text's \(totalLength) bytes")
        }
        guard fragmentLength > 0 || totalLength == 0 else {
            throw payload.malformed("empty fragment of a non-empty text")
        }
        if var pending = pendingMaps {
            guard pending.role == role, pending.tBegin == tBegin, pending.tEnd == tEnd,
                  pending.totalLength == totalLength
            else { throw payload.malformed("fragment does not belong to the text it continues") }
            pendingMaps = nil // keep the text's storage uniquely referenced while appending
            pending.text.append(contentsOf: payload.view(fragmentLength))
            pendingMaps = pending
        } else {
            var text: [UInt8] = []
            // Grow with the data actually present, not with what the record claims.
            text.reserveCapacity(min(totalLength, 8 << 20))
            text.append(contentsOf: payload.view(fragmentLength))
            pendingMaps = PendingQuiescentMaps(role: role, tBegin: tBegin, tEnd: tEnd, totalLength: totalLength, text: text)
        }
        guard let pending = pendingMaps, pending.text.count == pending.totalLength else { return nil }
        pendingMaps = nil
        return QuiescentMaps(role: pending.role, tBegin: pending.tBegin, tEnd: pending.tEnd, text: pending.text)
    }

    private func decodeTrailer(_ payload: inout PayloadCursor) throws(TraceError) -> TraceTrailer {
        let mutations = try payload.leb()
        let snapshots = try payload.leb()
        let readChunks = try payload.leb()
        let quiescentMaps = try payload.leb()
        let interrupted = try payload.leb()
        guard interrupted <= 1 else { throw payload.malformed("interrupted flag \(interrupted) is neither 0 nor 1") }
        let signal = try payload.int32("signal")
        let loopBegin = try payload.time()
        let loopEnd = try payload.time(after: loopBegin)
        return TraceTrailer(
            mutations: mutations, snapshots: snapshots, readChunks: readChunks, quiescentMaps: quiescentMaps,
            interrupted: interrupted == 1, signal: signal, mutatorLoopBegin: loopBegin, mutatorLoopEnd: loopEnd)
    }
}

private struct PendingQuiescentMaps {
    var role: QuiescentRole
    var tBegin: UInt64
    var tEnd: UInt64
    var totalLength: Int
    var text: [UInt8]
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
                let newCapacity = max(count * 2, 256 * 1024)
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
            if got == 0 { exhausted = true } else { end += got }
        }
    }

    private mutating func fill(_ destination: UnsafeMutableRawPointer, _ room: Int) throws(TraceError) -> Int {
        switch source {
        case .file(let descriptor):
            while true {
                let got = read(descriptor, destination, room)
                if got >= 0 { return got }
                if errno != EINTR { throw .io(path: path, errno: errno) }
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
