/// Reads the fields of one record payload (or the record framing of a block)
/// straight from decompressed memory. Every field is checked against `end`;
/// every failure names the record's raw-stream offset and kind.
///
/// `readableEnd` (>= `end`) is how far memory may be loaded, never decoded:
/// a block is allocated with slack after its last byte, so an integer can be
/// loaded as one 8-byte word and its length checked against `end` afterwards.
struct PayloadCursor {
    private(set) var position: UnsafeRawPointer
    /// Where decoding must stop: the end of the payload (or of the block,
    /// while the record's framing is read).
    var end: UnsafeRawPointer
    let readableEnd: UnsafeRawPointer
    let recordOffset: UInt64
    var kind: UInt8
    let originNs: UInt64

    init(
        _ start: UnsafeRawPointer, _ end: UnsafeRawPointer, readableEnd: UnsafeRawPointer? = nil,
        recordOffset: UInt64, kind: UInt8, originNs: UInt64
    ) {
        self.position = start
        self.end = end
        self.readableEnd = max(readableEnd ?? end, end)
        self.recordOffset = recordOffset
        self.kind = kind
        self.originNs = originNs
    }

    var remaining: Int { end - position }

    @inline(never) func malformed(_ reason: String) -> TraceError {
        .malformedRecord(byteOffset: recordOffset, kind: kind, reason: reason)
    }

    @inline(__always) mutating func byte() throws(TraceError) -> UInt8 {
        guard position < end else { throw malformed("the payload ends in the middle of a field") }
        let value = position.load(as: UInt8.self)
        position += 1
        return value
    }

    // MARK: Integers

    /// An unsigned LEB128 value. Values of up to 8 bytes (56 bits: every
    /// field but extreme addresses and negative times) are decoded from one
    /// word load without a loop; longer ones, and any near the end of the
    /// readable memory, take the byte-by-byte path.
    @inline(__always) mutating func leb() throws(TraceError) -> UInt64 {
        let available = end - position
        if available > 0 && readableEnd - position >= 8 {
            let word = UInt64(littleEndian: position.loadUnaligned(as: UInt64.self))
            // Most fields (kinds, flags, errno, small lengths) are one byte.
            if word & 0x80 == 0 {
                position += 1
                return word & 0x7F
            }
            // Page-sized lengths, durations, thread ids: two bytes.
            if word & 0x8000 == 0 && available >= 2 {
                position += 2
                return (word & 0x7F) | ((word &>> 1) & 0x3F80)
            }
            // The high bit of each byte is clear on the last byte of the value.
            let stops = ~word & 0x8080_8080_8080_8080
            if stops != 0 {
                let length = (stops.trailingZeroBitCount &+ 1) &>> 3
                if length <= available {
                    position += length
                    // Keep the value's bytes (up to and including the lowest stop bit).
                    return Self.packSevenBitGroups(word & (stops ^ (stops &- 1)))
                }
            }
        }
        return try lebSlow()
    }

    /// Packs the 7-bit groups in the low 7 bits of each byte of `word` into
    /// one 56-bit number, least significant group first.
    @inline(__always) static func packSevenBitGroups(_ word: UInt64) -> UInt64 {
        var x = word & 0x7F7F_7F7F_7F7F_7F7F
        x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) &>> 1)
        x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) &>> 2)
        return (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) &>> 4)
    }

    /// The byte-by-byte path: `length` is the bytes the value took, 0 if
    /// `[start, end)` ends inside it, -1 if it does not fit in 64 bits.
    /// Static, so that the cursor itself stays in registers on the hot path.
    @inline(never) static func lebCareful(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> (value: UInt64, length: Int) {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var cursor = start
        while cursor < end {
            let next = cursor.load(as: UInt8.self)
            cursor += 1
            if shift == 63 && next > 1 { return (0, -1) }
            value |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return (value, cursor - start) }
            shift += 7
        }
        return (0, 0)
    }

    @inline(__always) private mutating func lebSlow() throws(TraceError) -> UInt64 {
        let (value, length) = Self.lebCareful(position, end)
        guard length > 0 else { throw lebFailure(tooWide: length < 0) }
        position += length
        return value
    }

    @inline(never) private func lebFailure(tooWide: Bool) -> TraceError {
        malformed(tooWide ? "an integer does not fit in 64 bits" : "the payload ends in the middle of a field")
    }

    @inline(__always) mutating func zigzag() throws(TraceError) -> Int64 { unzigzag(try leb()) }

    @inline(__always) mutating func int32(_ field: StaticString) throws(TraceError) -> Int32 {
        let value = try zigzag()
        guard let narrow = Int32(exactly: value) else { throw tooWide(field, String(value)) }
        return narrow
    }

    @inline(__always) mutating func uint32(_ field: StaticString) throws(TraceError) -> UInt32 {
        let value = try leb()
        guard let narrow = UInt32(exactly: value) else { throw tooWide(field, String(value)) }
        return narrow
    }

    @inline(never) private func tooWide(_ field: StaticString, _ value: String) -> TraceError {
        malformed("\(field) \(value) does not fit in 32 bits")
    }

    @inline(__always) mutating func time() throws(TraceError) -> UInt64 {
        originNs &+ UInt64(bitPattern: try zigzag())
    }

    /// A `tEnd` stored as its distance from the record's `tBegin`.
    @inline(__always) mutating func time(after tBegin: UInt64) throws(TraceError) -> UInt64 {
        tBegin &+ (try leb())
    }

    // MARK: Byte strings

    /// A length field, checked against `limit` and what is left of the payload
    /// before anyone allocates for it.
    @inline(__always) mutating func length(_ field: StaticString, limit: Int) throws(TraceError) -> Int {
        let value = try leb()
        guard value <= UInt64(limit), value <= UInt64(remaining) else { throw badLength("\(field)", value, limit: limit) }
        return Int(value)
    }

    /// `length(_:limit:)` for fields named at run time.
    mutating func length(named field: String, limit: Int) throws(TraceError) -> Int {
        let value = try leb()
        guard value <= UInt64(limit), value <= UInt64(remaining) else { throw badLength(field, value, limit: limit) }
        return Int(value)
    }

    @inline(never) private func badLength(_ field: String, _ value: UInt64, limit: Int) -> TraceError {
        value > UInt64(limit)
            ? malformed("\(field) claims \(value) bytes, over the limit of \(limit)")
            : malformed("\(field) claims \(value) bytes but only \(remaining) are left in the record")
    }

    /// `count` bytes in place (valid while the block is); the caller has
    /// checked them against `remaining`.
    @inline(__always) mutating func view(_ count: Int) -> UnsafeRawBufferPointer {
        let view = UnsafeRawBufferPointer(start: position, count: count)
        position += count
        return view
    }

    /// A length-prefixed byte string in place.
    @inline(__always) mutating func bytes(_ field: StaticString, limit: Int) throws(TraceError) -> UnsafeRawBufferPointer {
        view(try length(field, limit: limit))
    }

    /// A length-prefixed UTF-8 string in place, validated.
    mutating func stringBytes(_ field: StaticString, limits: TraceLimits) throws(TraceError) -> UnsafeRawBufferPointer {
        let text = try bytes(field, limit: limits.maxString)
        guard text.allSatisfy({ $0 < 0x80 }) || String(validating: text, as: UTF8.self) != nil else {
            throw malformed("\(field) is not valid UTF-8")
        }
        return text
    }

    mutating func string(_ field: String, limits: TraceLimits) throws(TraceError) -> String {
        let text = view(try length(named: field, limit: limits.maxString))
        guard let string = String(validating: text, as: UTF8.self) else {
            throw malformed("\(field) is not valid UTF-8")
        }
        return string
    }

    mutating func parameters(_ field: String, limits: TraceLimits) throws(TraceError) -> [TraceParameter] {
        let count = try leb()
        guard count <= UInt64(limits.maxParameters) else {
            throw malformed("\(field) lists \(count) parameters, over the limit of \(limits.maxParameters)")
        }
        var parameters: [TraceParameter] = []
        parameters.reserveCapacity(Int(count))
        for _ in 0 ..< count {
            let key = try string("\(field) key", limits: limits)
            let value = try string("\(field) value", limits: limits)
            parameters.append(TraceParameter(key, value))
        }
        return parameters
    }
}

// MARK: - Record payloads (format v1, docs/trace-format.md)

extension PayloadCursor {
    mutating func header(limits: TraceLimits) throws(TraceError) -> TraceHeader {
        let toolVersion = try string("tool version", limits: limits)
        let kernelRelease = try string("kernel release", limits: limits)
        let kernelVersion = try string("kernel version", limits: limits)
        let machine = try string("machine", limits: limits)
        let pageSize = try leb()
        let clockID = try int32("clock id")
        let clockResolutionNs = try leb()
        let startWallClockNs = try zigzag()
        let origin = try leb()
        let mutatorPID = try int32("mutator pid")
        let readerPID = try int32("reader pid")
        let workload = try string("workload", limits: limits)
        let workloadParameters = try parameters("workload parameters", limits: limits)
        let reader = try string("reader", limits: limits)
        let readerParameters = try parameters("reader parameters", limits: limits)
        let seed = try leb()
        return TraceHeader(
            formatVersion: traceFormatVersion, toolVersion: toolVersion, kernelRelease: kernelRelease,
            kernelVersion: kernelVersion, machine: machine, pageSize: pageSize, clockID: clockID,
            clockResolutionNs: clockResolutionNs, startWallClockNs: startWallClockNs, originNs: origin,
            mutatorPID: mutatorPID, readerPID: readerPID, workload: workload,
            workloadParameters: workloadParameters, reader: reader, readerParameters: readerParameters, seed: seed)
    }

    // Mutations are most of a trace's records. `@inline(__always)` is not
    // honoured for this function (the release binary kept a call to it), and
    // the out-of-line call passes the 100-byte record through memory; forcing
    // it in line takes ~10% off decoding (perf, 1M-mutation synthetic trace).
    @_transparent mutating func mutation() throws(TraceError) -> MutationRecord {
        let sequence = try leb()
        let kindCode = try leb()
        guard kindCode <= UInt64(UInt8.max), let kind = MutationKind(rawValue: UInt8(truncatingIfNeeded: kindCode)) else {
            throw malformed("unknown mutation kind \(kindCode)")
        }
        let address = try leb()
        let length = try leb()
        let prot = try int32("prot")
        let flags = try int32("flags")
        let newAddress = try leb()
        let newLength = try leb()
        let result = try zigzag()
        let errno = try int32("errno")
        let tBegin = try time()
        let tEnd = try time(after: tBegin)
        let threadID = try int32("thread id")
        return MutationRecord(
            sequence: sequence, kind: kind, address: address, length: length, prot: prot, flags: flags,
            newAddress: newAddress, newLength: newLength, result: result, errno: errno,
            tBegin: tBegin, tEnd: tEnd, threadID: threadID)
    }

    @inline(__always) mutating func readChunk(limits: TraceLimits) throws(TraceError) -> ReadChunkView {
        let snapshot = try uint32("snapshot index")
        let sequence = try uint32("chunk sequence")
        let offset = try leb()
        let requested = try leb()
        let returned = try zigzag()
        let errno = try int32("errno")
        let tBegin = try time()
        let tEnd = try time(after: tBegin)
        let bytes = try bytes("chunk bytes", limit: limits.maxChunkBytes)
        // The data is exactly what the read returned: a count that disagrees
        // with it would mislead every sum and offset computed from it.
        guard returned < 0 || returned == Int64(bytes.count) else { throw chunkLengthMismatch(returned, bytes.count) }
        return ReadChunkView(
            snapshot: snapshot, sequence: sequence, offset: offset, requested: requested,
            returned: returned, errno: errno, tBegin: tBegin, tEnd: tEnd, bytes: bytes)
    }

    @inline(never) private func chunkLengthMismatch(_ returned: Int64, _ count: Int) -> TraceError {
        malformed("the read chunk claims \(returned) bytes returned but carries \(count)")
    }

    mutating func pause() throws(TraceError) -> ReaderPause {
        let snapshot = try uint32("snapshot index")
        let requested = try time()
        let stopped = try time(after: requested)
        let resumed = try time(after: stopped)
        return ReaderPause(snapshot: snapshot, tRequested: requested, tStopped: stopped, tResumed: resumed)
    }

    mutating func trailer() throws(TraceError) -> TraceTrailer {
        let mutations = try leb()
        let snapshots = try leb()
        let readChunks = try leb()
        let quiescentMaps = try leb()
        let interrupted = try leb()
        guard interrupted <= 1 else { throw malformed("interrupted flag \(interrupted) is neither 0 nor 1") }
        let signal = try int32("signal")
        let loopBegin = try time()
        let loopEnd = try time(after: loopBegin)
        return TraceTrailer(
            mutations: mutations, snapshots: snapshots, readChunks: readChunks, quiescentMaps: quiescentMaps,
            interrupted: interrupted == 1, signal: signal, mutatorLoopBegin: loopBegin, mutatorLoopEnd: loopEnd)
    }
}
