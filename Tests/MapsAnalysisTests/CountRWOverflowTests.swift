import MapsModel
import Testing

/// A forged maps text that repeats a huge read-write mapping overflows the
/// page total: an error naming the line (count-rw exits 30 with it), never a trap.
@Suite struct CountRWOverflowTests {
    private let whole = "0-ffffffffffffe000 rw-p 00000000 00:00 0 \n"

    @Test func overflowingTotalNamesTheLine() {
        let text = Array(("1000-2000 r--p 00000000 00:00 0 \n" + whole + whole).utf8)
        let error = #expect(throws: MapsParseError.self) {
            try countReadWritePages(inText: text, format: .linux, range: 0..<UInt64.max, pageSize: 1)
        }
        #expect(error?.line == 3)
        #expect(error?.description.hasPrefix("line 3, column 1: the read-write page count overflows 64 bits") == true)
    }

    @Test func parsedTextSaturates() throws {
        let maps = try MapsParser.parseLinux(Array((whole + whole).utf8))
        #expect(countReadWritePages(in: maps, range: 0..<UInt64.max, pageSize: 1) == .max)
    }

    @Test func largestTotalThatFitsIsExact() throws {
        let text = Array(whole.utf8)
        #expect(try countReadWritePages(inText: text, format: .linux, range: 0..<UInt64.max, pageSize: 1)
            == 0xffff_ffff_ffff_e000)
    }
}
