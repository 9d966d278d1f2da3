/// A short file name (a /proc path, a SysV segment's maps name) built in
/// the stop loop without allocating: up to 127 bytes in a fixed buffer on
/// the stack, always NUL-terminated. Bytes past the room are dropped and
/// `overflowed` says so (the names built here are under 64 bytes).
struct ShortPath {
    static let room = 127
    private var storage: (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0
    private(set) var overflowed = false

    init() {}

    /// "/proc/" followed by `id` in decimal.
    static func proc(_ id: Int32) -> ShortPath {
        var path = ShortPath()
        path.append("/proc/")
        path.appendDecimal(UInt64(UInt32(bitPattern: id)))
        return path
    }

    mutating func append(_ byte: UInt8) {
        guard count < Self.room else { overflowed = true; return }
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { append(byte) } }
    }

    mutating func appendDecimal(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        repeat {
            append(UInt8(48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        } while divisor > 0
    }

    /// Lower-case hexadecimal, zero-padded to `minimumDigits`.
    mutating func appendHex(_ value: UInt64, minimumDigits: Int = 1) {
        var digits = 1
        while digits < 16, value >> UInt64(4 * digits) != 0 { digits += 1 }
        digits = max(digits, min(minimumDigits, 16))
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            let digit = UInt8((value >> UInt64(shift)) & 15)
            append(digit < 10 ? 48 + digit : 87 + digit)
        }
    }

    /// Calls `body` with the path as a C string.
    func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    /// Copies the bytes (without the NUL) to `destination`, which has room for `count`.
    func copy(to destination: UnsafeMutableRawPointer) {
        withUnsafeBytes(of: storage) { destination.copyMemory(from: $0.baseAddress!, byteCount: count) }
    }
}
