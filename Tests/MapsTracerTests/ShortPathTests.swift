// ShortPath: the allocation-free file names the stop loop builds.

@testable import MapsTracer
import Testing

@Suite struct ShortPathTests {
    func text(_ path: ShortPath) -> String { path.withCString { String(cString: $0) } }

    @Test func procPathsWithDecimalNumbers() {
        var path = ShortPath.proc(1234)
        path.append("/fd/")
        path.appendDecimal(0)
        #expect(text(path) == "/proc/1234/fd/0")
        #expect(path.count == 15 && !path.overflowed)
        var big = ShortPath.proc(Int32.max)
        big.appendDecimal(UInt64.max)
        #expect(text(big) == "/proc/2147483647" + String(UInt64.max))
    }

    @Test func hexadecimalWithAndWithoutPadding() {
        var path = ShortPath()
        path.appendHex(0x7f12_a000)
        path.append("-")
        path.appendHex(0)
        path.append(" ")
        path.appendHex(0xbeef, minimumDigits: 8)
        path.append(" ")
        path.appendHex(UInt64.max)
        #expect(text(path) == "7f12a000-0 0000beef ffffffffffffffff")
    }

    @Test func bytesPastTheRoomAreDroppedAndSaid() {
        var path = ShortPath()
        for _ in 0..<200 { path.append("x") }
        #expect(path.count == ShortPath.room && path.overflowed)
        #expect(text(path) == String(repeating: "x", count: ShortPath.room))
        var copied = [UInt8](repeating: 0, count: ShortPath.room)
        copied.withUnsafeMutableBytes { path.copy(to: $0.baseAddress!) }
        #expect(copied == Array(repeating: UInt8(ascii: "x"), count: ShortPath.room))
    }
}
