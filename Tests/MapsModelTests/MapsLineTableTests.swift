import Testing
@testable import MapsModel

/// The column parser (with its fast path for plain anonymous lines) against
/// the line parser: the same lines, offsets and errors.
struct MapsLineTableTests {
    static func table(_ text: String) -> Result<MapsLineTable, MapsParseError> {
        Array(text.utf8).withUnsafeBytes { bytes in
            Result { () throws(MapsParseError) in try MapsParser.parseLinuxTable(bytes) }
        }
    }

    static func lines(_ text: String) -> Result<MapsLineTable, MapsParseError> {
        Result { () throws(MapsParseError) in MapsLineTable(try MapsParser.parseLinux(Array(text.utf8))) }
    }

    static let cases: [String] = [
        "7f00-7f10 rw-p 00000000 00:00 0\n",
        "7f00-7f10 rw-p 00000000 00:00 0 \n7f10-7f20 ---p 00000000 00:00 0\n",
        "7f00-7f10 r-xs 00000000 00:00 0",  // no final newline
        "7f00-7f10 rw-p 00000000 00:00 0      \n",  // padding, no path
        "7f00-7f10 rw-p 00000000 00:00 0                    [heap]\n",
        "7f00-7f10 rw-p 00001000 08:01 1234    /usr/lib/libc.so.6\n",
        "7f00-7f10 rw-p 00000000 00:00 01\n",  // inode 1 with a leading zero
        "7f00-7f10 rw-p 00000000 00:00 0x\n",  // garbage after the inode
        "7F00-7F10 RW-P 00000000 00:00 0\n",  // upper-case permissions are wrong
        "7F00-7F10 rw-p 00000000 00:00 0\n",  // upper-case hex is fine
        "7f10-7f00 rw-p 00000000 00:00 0\n",  // start above end
        "7f00-7f10 rw-p 0000000 00:00 0\n",  // a 7-digit offset
        "11112222333344445-7f10 rw-p 00000000 00:00 0\n",  // 17 hex digits
        "7f00-7f10 rw-p 00000000 00:00\n",  // no inode
        "7f00-7f10 rw-p\n",
        "7f00-7f10 rwzp 00000000 00:00 0\n",
        "\n",
        "7f00-7f10 rw-p 00000000 00:00 0\n\n7f10-7f20 rw-p 00000000 00:00 0\n",
    ]

    @Test(arguments: cases)
    func columnsMatchTheLineParser(_ text: String) {
        #expect(Self.table(text) == Self.lines(text))
    }

    @Test func aLineReadAgainIsTheLineParsedOnce() throws {
        let text = Array("7f00-7f10 rw-p 00000000 00:00 0\n7f10-7f20 r--p 00001000 08:01 99    /lib/x (deleted)\n".utf8)
        let parsed = try MapsParser.parseLinux(text)
        for (line, offset) in zip(parsed.lines, parsed.byteOffsets) {
            #expect(MapsParser.line(in: text, at: offset) == line)
        }
        #expect(MapsParser.line(in: text, at: text.count) == nil)
    }
}

/// The flat interval operations against `StateSet`'s own, on random sets.
struct StateIntervalsTests {
    static func randomSet(_ generator: inout SystemRandomNumberGenerator) -> StateSet {
        var set = StateSet()
        var next = Int.random(in: 0...5, using: &generator)
        for _ in 0..<Int.random(in: 0...6, using: &generator) {
            let low = next + Int.random(in: 0...4, using: &generator)
            let high = low + Int.random(in: 0...4, using: &generator)
            set.append(low...high)
            next = high + 2
        }
        return set
    }

    @Test func intersectAndMeetAgreeWithStateSet() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let a = Self.randomSet(&generator)
            let b = Self.randomSet(&generator)
            let flatA = a.intervals.map { StateInterval($0) }
            let flatB = b.intervals.map { StateInterval($0) }
            var output: [StateInterval] = []
            flatA.withUnsafeBufferPointer { x in flatB.withUnsafeBufferPointer { y in StateIntervals.intersect(x, y, into: &output) } }
            let flatSet = output.withUnsafeBufferPointer { StateIntervals.set($0) }
            #expect(flatSet == a.intersection(b))
            let low = Int.random(in: 0...30, using: &generator)
            let high = low + Int.random(in: 0...5, using: &generator)
            let meets = flatA.withUnsafeBufferPointer { StateIntervals.meets($0, Int32(low), Int32(high)) }
            #expect(meets == !a.intersection(StateSet(low...high)).isEmpty)
        }
    }
}
