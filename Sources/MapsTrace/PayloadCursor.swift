/// Reads the fields of one record payload (or the record framing of a block)
/// straight from decompressed memory. Every read is checked against `end`;
/// every failure names the record's raw-stream offset and kind.
struct PayloadCursor {
    private(set) var position: UnsafeRawPointer
    let end: UnsafeRawPointer
    let recordOffset: UInt64
    let kind: UInt8
    let originNs: UInt64

    init(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer, recordOffset: UInt64, kind: UInt8, originNs: UInt64) {
        self.position = start
        self.end = end
        self.recordOffset = recordOffset
        self.kind = kind
        self.originNs = originNs
    }

    var remaining: Int { end - position }

    func malformed(_ reason: String) -> TraceError {
        .malformedRecord(byteOffset: recordOffset, kind: kind, reason: reason)
    }

    @inline(__always) mutating func byte() throws(TraceError) -> UInt8 {
        guard position < end else { throw malformed("the payload ends in the middle of a field") }
        let value = position.load(as: UInt8.self)
        position += 1
        return value
    }

    @inline(__always) mutating func leb() throws(TraceError) -> UInt64 {
        if position < end {
            let first = position.load(as: UInt8.self)
            if first < 0x80 {
                position += 1
                return UInt64(first)
            }
        }
        return try lebSlow()
    }

    private mutating func lebSlow() throws(TraceError) -> UInt64 {
        if remaining >= 10 {
            // Enough bytes for the longest encoding: no bounds check per byte.
            var value: UInt64 = 0
            var shift: UInt64 = 0
            var cursor = position
            while shift < 63 {
                let next = cursor.load(as: UInt8.self)
                cursor += 1
                value |= UInt64(next & 0x7F) << shift
                if next < 0x80 {
                    position = cursor
                    return value
                }
                shift += 7
            }
            let last = cursor.load(as: UInt8.self)
            guard last <= 1 else { throw malformed("an integer does not fit in 64 bits") }
            position = cursor + 1
            return value | UInt64(last) << 63
        }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            if shift == 63 && next > 1 { throw malformed("an integer does not fit in 64 bits") }
            value |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return value }
            shift += 7
        }
    }

    @inline(__always) mutating func zigzag() throws(TraceError) -> Int64 { unzigzag(try leb()) }

    mutating func int32(_ field: String) throws(TraceError) -> Int32 {
        let value = try zigzag()
        guard let narrow = Int32(exactly: value) else { throw malformed("\(field) \(value) does not fit in 32 bits") }
        return narrow
    }

    mutating func uint32(_ field: String) throws(TraceError) -> UInt32 {
        let value = try leb()
        guard let narrow = UInt32(exactly: value) else { throw malformed("\(field) \(value) does not fit in 32 bits") }
        return narrow
    }

    /// A length field, checked against `limit` and what is left of the payload
    /// before anyone allocates for it.
    mutating func length(_ field: String, limit: Int) throws(TraceError) -> Int {
        let value = try leb()
        guard value <= UInt64(limit) else {
            throw malformed("\(field) claims \(value) bytes, over the limit of \(limit)")
        }
        guard value <= UInt64(remaining) else {
            throw malformed("\(field) claims \(value) bytes but only \(remaining) are left in the record")
        }
        return Int(value)
    }

    @inline(__always) mutating func time() throws(TraceError) -> UInt64 {
        originNs &+ UInt64(bitPattern: try zigzag())
    }

    /// A `tEnd` stored as its distance from the record's `tBegin`.
    @inline(__always) mutating func time(after tBegin: UInt64) throws(TraceError) -> UInt64 {
        tBegin &+ (try leb())
    }

    mutating func string(_ field: String, limits: TraceLimits) throws(TraceError) -> String {
        let count = try length(field, limit: limits.maxString)
        let text = UnsafeBufferPointer(start: position.assumingMemoryBound(to: UInt8.self), count: count)
        guard let string = String(validating: text, as: UTF8.self) else {
            throw malformed("\(field) is not valid UTF-8")
        }
        position += count
        return string
    }

    mutating func bytes(_ field: String, limit: Int) throws(TraceError) -> [UInt8] {
        let count = try length(field, limit: limit)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: position, count: count))
        position += count
        return bytes
    }

    /// `count` bytes in place (valid while the block is).
    mutating func view(_ count: Int) -> UnsafeRawBufferPointer {
        let view = UnsafeRawBufferPointer(start: position, count: count)
        position += count
        return view
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
