import MapsSystem

/// One PROCMAP_QUERY answer rendered as the maps line the kernel prints for
/// that mapping (`show_map_vma`). Shared by the built-in `procmap-query`
/// reader (ProcmapQueryWalk, its own answers) and the tracer (a traced
/// program's answers, copied out of it), so both turn a walk into the same text.
public enum ProcmapQueryLine {
    /// Room for the fixed fields: at most 16+1+16+1+4+1+16+1+8+1+8+1+20+1 bytes.
    public static let fixedFieldsRoom = 96

    /// Writes `answer` as `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu `, then
    /// for a named mapping spaces up to column 72, a space and the name
    /// (`nameLength` bytes at `name`, no NUL), and the newline. The bytes
    /// written, nil if `destination` is too small.
    public static func render(
        _ answer: ProcmapQuery, name: UnsafeRawPointer?, nameLength: Int, into destination: UnsafeMutableRawBufferPointer
    ) -> Int? {
        let length = name == nil ? 0 : max(nameLength, 0)
        guard let start = destination.baseAddress, destination.count >= fixedFieldsRoom + 1 + length + 1 else { return nil }
        var line = LineWriter(start)
        line.hex(answer.vma_start, width: 8)
        line.byte(UInt8(ascii: "-"))
        line.hex(answer.vma_end, width: 8)
        line.byte(UInt8(ascii: " "))
        let flags = answer.vma_flags
        line.byte(flags & ProcmapQueryFlags.readable != 0 ? UInt8(ascii: "r") : UInt8(ascii: "-"))
        line.byte(flags & ProcmapQueryFlags.writable != 0 ? UInt8(ascii: "w") : UInt8(ascii: "-"))
        line.byte(flags & ProcmapQueryFlags.executable != 0 ? UInt8(ascii: "x") : UInt8(ascii: "-"))
        line.byte(flags & ProcmapQueryFlags.shared != 0 ? UInt8(ascii: "s") : UInt8(ascii: "p"))
        line.byte(UInt8(ascii: " "))
        line.hex(answer.vma_offset, width: 8)
        line.byte(UInt8(ascii: " "))
        line.hex(UInt64(answer.dev_major), width: 2)
        line.byte(UInt8(ascii: ":"))
        line.hex(UInt64(answer.dev_minor), width: 2)
        line.byte(UInt8(ascii: " "))
        line.decimal(answer.inode)
        line.byte(UInt8(ascii: " "))
        if let name, length > 0 {
            while line.count < 72 { line.byte(UInt8(ascii: " ")) }
            line.byte(UInt8(ascii: " "))
            line.bytes(name, count: length)
        }
        line.byte(UInt8(ascii: "\n"))
        return line.count
    }

    /// The same line as an array (for encoding after a recording).
    public static func render(_ answer: ProcmapQuery, name: [UInt8]) -> [UInt8] {
        let room = fixedFieldsRoom + 2 + name.count
        return [UInt8](unsafeUninitializedCapacity: room) { buffer, initialized in
            initialized = name.withUnsafeBytes { nameBytes in
                render(
                    answer, name: nameBytes.baseAddress, nameLength: nameBytes.count,
                    into: UnsafeMutableRawBufferPointer(buffer)) ?? 0
            }
        }
    }
}

/// Appends bytes to memory known to be large enough.
private struct LineWriter {
    private let start: UnsafeMutableRawPointer
    private(set) var count = 0

    init(_ start: UnsafeMutableRawPointer) { self.start = start }

    @inline(__always) mutating func byte(_ value: UInt8) {
        start.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func bytes(_ source: UnsafeRawPointer, count length: Int) {
        (start + count).copyMemory(from: source, byteCount: length)
        count += length
    }

    /// Lowercase hex, zero-padded to at least `width` digits (`%0<width>lx`).
    mutating func hex(_ value: UInt64, width: Int) {
        let significant = value == 0 ? 1 : (64 - value.leadingZeroBitCount + 3) / 4
        let digits = max(significant, width)
        for position in stride(from: digits - 1, through: 0, by: -1) {
            let nibble = position < 16 ? UInt8(truncatingIfNeeded: value >> (4 * UInt64(position))) & 0xf : 0
            byte(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
        }
    }

    /// Decimal without padding (`%lu`).
    mutating func decimal(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            byte(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
