import MapsModel
import Testing

/// `ReadWritePageCounter` fed in pieces of every size agrees with the count
/// over the whole text, and keeps only a line's worth of it.
@Suite struct StreamingCountTests {
    static let text = Array("""
        7f0000000000-7f0000002000 rw-p 00000000 00:00 0 
        7f0000002000-7f0000003000 r--p 00000000 00:00 0 
        7f0000003000-7f0000007000 rw-p 00000000 00:00 0                          /tmp/a file
        7f0000007000-7f0000008000 rw-p 00000000 00:00 0
        """.utf8)

    @Test(arguments: [1, 2, 7, 50, 4096])
    func piecesOfAnySizeGiveTheWholeTextsCount(pieceSize: Int) throws {
        let whole = try countReadWritePages(inText: Self.text, format: .linux, range: 0..<UInt64.max, pageSize: 4096)
        #expect(whole == 7)
        var counter = ReadWritePageCounter(format: .linux, range: 0..<UInt64.max, pageSize: 4096)
        var start = 0
        while start < Self.text.count {
            let end = min(start + pieceSize, Self.text.count)
            try Self.text[start..<end].withUnsafeBytes { try counter.add($0) }
            start = end
        }
        #expect(try counter.finish() == whole)
        #expect(counter.lines == 3)
    }

    @Test func errorsNameTheLineOfTheWholeInput() {
        var counter = ReadWritePageCounter(format: .linux, range: 0..<UInt64.max, pageSize: 4096)
        let good = Array(String(repeating: "7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n", count: 5000).utf8)
        let error = #expect(throws: MapsParseError.self) {
            try good.withUnsafeBytes { try counter.add($0) }
            try Array("garbage\n".utf8).withUnsafeBytes { try counter.add($0) }
            _ = try counter.finish()
        }
        #expect(error?.line == 5001)
    }

    @Test func aLineWithoutEndIsRefusedOnceItIsTooLong() {
        var counter = ReadWritePageCounter(format: .freebsd, range: 0..<UInt64.max, pageSize: 4096)
        let zeros = [UInt8](repeating: 0, count: 4096)
        var fed = 0
        let error = #expect(throws: MapsParseError.self) {
            while true {
                try zeros.withUnsafeBytes { try counter.add($0) }
                fed += zeros.count
            }
        }
        #expect(error?.reason == "the line is longer than 65536 bytes (not a maps text)")
        // Refused as soon as the line passed the limit, not after reading on.
        #expect(fed <= ReadWritePageCounter.maxLineLength)
    }
}
