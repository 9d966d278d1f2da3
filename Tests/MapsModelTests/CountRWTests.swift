import MapsSystem
import Testing
@testable import MapsModel

private let page: UInt64 = 4096

private func count(_ text: String, format: MapsFormat = .linux, _ range: Range<UInt64>) throws -> UInt64 {
    try countReadWritePages(inText: Array(text.utf8), format: format, range: range, pageSize: page)
}

@Suite struct CountReadWriteBoundaryTests {
    // The range is [0x10000, 0x20000): pages 0x10 ..< 0x20.
    let range: Range<UInt64> = 0x10000..<0x20000

    @Test func mappingStraddlingStartIsNotCounted() throws {
        #expect(try count("0000f000-00011000 rw-p 00000000 00:00 0 \n", range) == 0)
    }

    @Test func mappingStraddlingEndIsNotCounted() throws {
        #expect(try count("0001f000-00021000 rw-p 00000000 00:00 0 \n", range) == 0)
    }

    @Test func mappingCoveringTheWholeRangeAndMoreIsNotCounted() throws {
        #expect(try count("0000f000-00021000 rw-p 00000000 00:00 0 \n", range) == 0)
    }

    @Test func mappingStartingAtStartIsCounted() throws {
        #expect(try count("00010000-00012000 rw-p 00000000 00:00 0 \n", range) == 2)
    }

    /// The seed's Linux script (`end < END`) gave 0 here.
    @Test func lastPageEndingExactlyAtEndIsCounted() throws {
        #expect(try count("0001f000-00020000 rw-p 00000000 00:00 0 \n", range) == 1)
        #expect(try count("0001f000-00020000 rw-p 00000000 00:00 0 \n", format: .linux, 0x10000..<0x1ffff) == 0)
    }

    @Test func mappingsOutsideTheRangeAreNotCounted() throws {
        let text = """
            0000e000-00010000 rw-p 00000000 00:00 0 
            00020000-00022000 rw-p 00000000 00:00 0 

            """
        #expect(try count(text, range) == 0)
    }

    @Test func onlyReadableAndWritableMappingsCount() throws {
        let text = """
            00010000-00011000 rw-p 00000000 00:00 0 
            00011000-00013000 rwxp 00000000 00:00 0 
            00013000-00014000 rw-s 00000000 00:05 77                         /memfd:x (deleted)
            00014000-00015000 -w-p 00000000 00:00 0 
            00015000-00016000 r--p 00000000 00:00 0 
            00016000-00017000 ---p 00000000 00:00 0 
            00017000-00018000 r-xp 00000000 00:00 0 

            """
        #expect(try count(text, range) == 4)
    }

    @Test func otherPageSizes() throws {
        let text = "00010000-00020000 rw-p 00000000 00:00 0 \n"
        #expect(try countReadWritePages(inText: Array(text.utf8), format: .linux, range: range, pageSize: 0x4000) == 4)
        #expect(try countReadWritePages(inText: Array(text.utf8), format: .linux, range: range, pageSize: 0x10000) == 1)
    }

    @Test func freeBSDBoundaries() throws {
        let text = """
              PID              START                END PRT  RES PRES REF SHD FLAG  TP PATH
             4242            0xf000            0x11000 rw-     1    1   1   0 ----- df 
             4242           0x11000            0x12000 rw-     1    1   1   0 ----- df 
             4242           0x12000            0x14000 r--     0    0   1   0 ----- df 
             4242           0x14000            0x16000 rwx     0    0   1   0 ----- df 
             4242           0x1f000            0x20000 rw-     0    0   1   0 ----- df 
             4242           0x20000            0x21000 rw-     0    0   1   0 ----- df 

            """
        #expect(try count(text, format: .freebsd, range) == 4)
    }

    @Test func unparsableTextReportsWhere() throws {
        let text = "00010000-00011000 rw-p 00000000 00:00 0 \n00011000-00012000 rwqp 00000000 00:00 0 \n"
        #expect(throws: MapsParseError(line: 2, column: 21, reason: "expected 'x' or '-' for execute")) {
            try count(text, range)
        }
    }
}

@Suite struct HexAddressTests {
    @Test func acceptsPrefixedAndBareHex() {
        #expect(parseHexAddress("0x7fa44f494000") == 0x7fa4_4f49_4000)
        #expect(parseHexAddress("7FA44F494000") == 0x7fa4_4f49_4000)
        #expect(parseHexAddress("0Xff") == 0xff)
        #expect(parseHexAddress("ffffffffffffffff") == UInt64.max)
    }

    @Test func rejectsOtherText() {
        for text in ["", "0x", "0x1g", "-1", "1 ", "10000000000000000", "0x10000000000000000"] {
            #expect(parseHexAddress(text) == nil, "\(text)")
        }
    }
}


/// A seed-like address space: an arena of pages with random permissions,
/// adjacent equal pages merged into one mapping as the kernel does, between
/// read-write mappings that straddle the range's bounds and others wholly
/// outside it.
private struct GeneratedAddressSpace {
    /// One mapping: [start, end) and its "rwx" permission characters.
    var mappings: [(start: UInt64, end: UInt64, permissions: String)] = []
    var range: Range<UInt64>
    /// The read-write pages inside the range, counted page by page as generated.
    var expectedReadWritePages: UInt64 = 0

    init(using random: inout SplitMix64) {
        let arenaStart: UInt64 = 0x7f00_0000_0000 + UInt64.random(in: 0..<0x1000, using: &random) * page
        let arenaPages = Int.random(in: 1...300, using: &random)
        let choices = ["---", "r--", "rw-", "rwx", "r-x", "-w-"]
        let pagePermissions = (0..<arenaPages).map { _ in choices[Int.random(in: 0..<choices.count, using: &random)] }
        expectedReadWritePages = UInt64(pagePermissions.filter { $0.hasPrefix("rw") }.count)

        // Read-write mappings around the arena: wholly below, straddling START.
        mappings.append((arenaStart - 8 * page, arenaStart - 4 * page, "rw-"))
        let straddlesStart = Bool.random(using: &random)
        if straddlesStart {
            mappings.append((arenaStart - 2 * page, arenaStart + page, "rw-"))
        }
        let firstArenaPage = straddlesStart ? 1 : 0
        var index = firstArenaPage
        while index < arenaPages {
            var next = index + 1
            while next < arenaPages && pagePermissions[next] == pagePermissions[index] { next += 1 }
            mappings.append((arenaStart + UInt64(index) * page, arenaStart + UInt64(next) * page, pagePermissions[index]))
            index = next
        }
        if straddlesStart {
            expectedReadWritePages -= UInt64(pagePermissions[..<firstArenaPage].filter { $0.hasPrefix("rw") }.count)
        }
        let arenaEnd = arenaStart + UInt64(arenaPages) * page
        // After the arena: a read-write mapping ending exactly at END (counted)
        // or one straddling END (not counted), then one wholly above.
        let endsAtEnd = Bool.random(using: &random)
        if endsAtEnd {
            mappings.append((arenaEnd, arenaEnd + 2 * page, "rw-"))
            expectedReadWritePages += 2
            range = arenaStart..<(arenaEnd + 2 * page)
        } else {
            mappings.append((arenaEnd, arenaEnd + 3 * page, "rw-"))
            range = arenaStart..<(arenaEnd + page)
        }
        mappings.append((arenaEnd + 6 * page, arenaEnd + 9 * page, "rw-"))
    }

    var linuxText: String {
        mappings.map { "\(String($0.start, radix: 16))-\(String($0.end, radix: 16)) \($0.permissions)p 00000000 00:00 0 \n" }
            .joined()
    }

    var freeBSDText: String {
        "  PID              START                END PRT  RES PRES REF SHD FLAG  TP PATH\n"
            + mappings.map {
                "12345 0x\(String($0.start, radix: 16)) 0x\(String($0.end, radix: 16)) \($0.permissions) 0 0 1 0 ----- df \n"
            }.joined()
    }
}

@Suite struct CountReadWriteGeneratedTests {
    @Test func matchesThePageByPageCountOnGeneratedMaps() throws {
        var random = SplitMix64(seed: 65000)
        for _ in 0..<200 {
            let space = GeneratedAddressSpace(using: &random)
            let linux = try count(space.linuxText, format: .linux, space.range)
            let freeBSD = try count(space.freeBSDText, format: .freebsd, space.range)
            #expect(linux == space.expectedReadWritePages, "\(space.linuxText)")
            #expect(freeBSD == space.expectedReadWritePages)
        }
    }
}
