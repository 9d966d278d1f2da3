// Hand-made maps texts, one per impossibility and per suspicious shape,
// checked with the line numbers and lines `check` must name.

import MapsCheck
import MapsModel
import Testing

@Suite struct Impossibilities {
    @Test func aConsistentTextHasNoEvidence() throws {
        let text = "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
            + "00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/dbus-daemon\n"
            + anonymousLine(0x7f00_0000, 0x7f00_1000, "r--p")
            + anonymousLine(0x7f00_1000, 0x7f00_2000, "---p")
            + anonymousLine(0x7f00_2000, 0x7f00_3000, "rw-p")
        let result = try check(text)
        #expect(result.verdict == .noEvidence)
        #expect(result.findings.isEmpty)
        #expect(result.lines == 5 && result.mappings == 5)
        #expect(result.bytes == UInt64(text.utf8.count))
    }

    /// The shape measured on Linux 6.18: a line printed, its mapping merged
    /// with the next between two reads, the next read resuming inside it.
    @Test func overlapWithTheMergeShapeFromTheSameStart() throws {
        let first = "7f3a213fe000-7f3a213ff000 ---p 00000000 00:00 0 "
        let second = "7f3a213fe000-7f3a21401000 ---p 00000000 00:00 0 "
        let text = anonymousLine(0x7f3a_213f_d000, 0x7f3a_213f_e000, "r--p") + first + "\n" + second + "\n"
            + "7f3a21401000-7f3a21402000 r--p 00000000 00:00 0 \n"
        let result = try check(text)
        #expect(result.verdict == .torn)
        let finding = try #require(result.findings.first { $0.proved })
        #expect(finding.kind == .overlap)
        #expect(finding.shape == .mergeBetweenReads)
        #expect(finding.lines == [NumberedLine(number: 2, text: first), NumberedLine(number: 3, text: second)])
        #expect(finding.detail.contains("starts where line 2 starts and extends it"))
        #expect(result.impossibilities == 1)
    }

    /// pmap's reader in traces/rolling-pmap-4000p-seed1, snapshot 3: the
    /// printed page merged with neighbours on both sides.
    @Test func overlapWithTheMergeShapeFromBelow() throws {
        let text = anonymousLine(0x7f6d_482d_b000, 0x7f6d_482d_c000, "---p")
            + anonymousLine(0x7f6d_482d_c000, 0x7f6d_482d_d000, "r--p")
            + anonymousLine(0x7f6d_482d_9000, 0x7f6d_482d_e000, "---p")
        let result = try check(text)
        #expect(result.findings.map(\.kind) == [.overlap])
        #expect(result.findings.first?.shape == .mergeBetweenReads)
        #expect(result.findings.first?.lines.map(\.number) == [2, 3])
        #expect(result.findings.first?.detail.contains("covers line 2 and extends it") == true)
    }

    @Test func overlapOfAnotherShape() throws {
        // The second line starts inside the first and ends inside it too.
        let text = anonymousLine(0x1000, 0x5000, "r--p") + anonymousLine(0x2000, 0x3000, "rw-p")
            + anonymousLine(0x5000, 0x6000, "r-xp")
        let result = try check(text)
        #expect(result.findings.map(\.kind) == [.overlap])
        #expect(result.findings.first?.shape == .overlap)
        #expect(result.findings.first?.detail.contains("lines 1 and 2 both map 0x2000-0x3000") == true)
    }

    @Test func backwards() throws {
        let text = anonymousLine(0x5000, 0x6000, "r--p") + anonymousLine(0x8000, 0x9000, "rw-p")
            + anonymousLine(0x1000, 0x2000, "r-xp")
        let result = try check(text)
        #expect(result.findings.map(\.kind) == [.backwards])
        #expect(result.findings.first?.lines.map(\.number) == [2, 3])
        #expect(result.verdict == .torn)
    }

    /// Every line below the highest end breaks the order, not only the
    /// first: the one after a line that went backwards is compared with
    /// the line that reached highest, not with its neighbour.
    @Test func everyLineBelowTheHighestEndIsNamed() throws {
        let text = anonymousLine(0x1000, 0x9000, "r--p") + anonymousLine(0x2000, 0x3000, "rw-p")
            + anonymousLine(0x4000, 0x5000, "r-xp") + anonymousLine(0x9000, 0xa000, "rw-p")
        let result = try check(text)
        #expect(lines(of: .overlap, in: result) == [2, 3])
        #expect(result.findings.allSatisfy { $0.lines.first?.number == 1 })
    }

    @Test func endBeforeStartAndEmptyRange() throws {
        let text = anonymousLine(0x1000, 0x2000, "r--p") + "00005000-00004000 rw-p 00000000 00:00 0 \n"
            + "00006000-00006000 rw-p 00000000 00:00 0 \n" + anonymousLine(0x7000, 0x8000, "r--p")
        let result = try check(text)
        #expect(lines(of: .endBeforeStart, in: result) == [2, 3])
        #expect(result.findings.count == 2)
        #expect(result.findings[0].detail.contains("before it starts"))
        #expect(result.findings[1].detail.contains("where it starts"))
    }

    @Test func truncatedLastLineThatDoesNotParse() throws {
        let text = anonymousLine(0x1000, 0x2000, "r--p") + "00002000-000030"
        let result = try check(text)
        #expect(result.findings.map(\.kind) == [.truncatedLastLine])
        #expect(result.findings.first?.lines == [NumberedLine(number: 2, text: "00002000-000030")])
        #expect(result.mappings == 1)
        #expect(result.verdict == .torn)
    }

    /// Cut inside the path: the line parses, but the newline is missing,
    /// and its range still takes part in the other checks.
    @Test func truncatedLastLineThatParses() throws {
        let text = "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
            + "00300000-00301000 r--p 00000000 08:02 173521      /usr/bi"
        let result = try check(text)
        #expect(Set(result.findings.map(\.kind)) == [.truncatedLastLine, .backwards])
        #expect(result.mappings == 2)
    }

    @Test func duplicateOfTheLineBefore() throws {
        let line = anonymousLine(0x2000, 0x3000, "rw-p")
        let result = try check(anonymousLine(0x1000, 0x2000, "r--p") + line + line + anonymousLine(0x3000, 0x4000, "r--p"))
        #expect(result.findings.map(\.kind) == [.duplicateLine])
        #expect(result.findings.first?.lines.map(\.number) == [2, 3])
        #expect(result.impossibilities == 1)
    }

    /// A line repeated after another line in between: the repeat of the
    /// line that reached highest.
    @Test func duplicateOfAnEarlierLine() throws {
        let repeated = anonymousLine(0x1000, 0x9000, "r--p")
        let result = try check(repeated + anonymousLine(0x2000, 0x3000, "rw-p") + repeated)
        #expect(result.findings.map(\.kind) == [.overlap, .duplicateLine])
        #expect(result.findings.last?.lines.map(\.number) == [1, 3])
    }

    /// A carriage return before each newline (a text saved on Windows) is
    /// not part of the line.
    @Test func carriageReturnsAreIgnored() throws {
        let text = anonymousLine(0x1000, 0x2000, "r--p").replacingNewline() + anonymousLine(0x2000, 0x3000, "rw-p").replacingNewline()
        let result = try check(text)
        #expect(result.verdict == .noEvidence)
        #expect(result.mappings == 2)
    }

    @Test func findingsBeyondTheListAreCounted() throws {
        let line = anonymousLine(0x2000, 0x3000, "rw-p")
        var limits = CheckLimits.standard
        limits.listedFindings = 3
        let result = try check(String(repeating: line, count: 6), limits: limits)
        #expect(result.impossibilities == 5)
        #expect(result.findings.count == 3)
        #expect(result.findingsOmitted == 2)
    }
}

@Suite struct SuspiciousShapes {
    @Test func unmergedAnonymousNeighbours() throws {
        let text = anonymousLine(0x1000, 0x2000, "r--p") + anonymousLine(0x2000, 0x3000, "---p")
            + anonymousLine(0x3000, 0x4000, "---p")
            // A file mapping next to an anonymous one with the same permissions is normal.
            + "00004000-00005000 ---p 00000000 08:02 12 /usr/lib/x.so\n"
            // Anonymous with a gap between them: not neighbours.
            + anonymousLine(0x6000, 0x7000, "rw-p") + anonymousLine(0x8000, 0x9000, "rw-p")
        let result = try check(text)
        #expect(result.verdict == .suspicious)
        #expect(result.findings.map(\.kind) == [.unmergedAnonymous])
        #expect(result.findings.first?.lines.map(\.number) == [2, 3])
        #expect(result.findings.first?.proved == false)
    }

    /// Lines of one length: the kernel's page holds `perPage` of them
    /// (at most 4095 bytes), so line `perPage + 1` starts the second read.
    @Test func aHoleAtTheLikelyPageBoundaryOnly() throws {
        let length = anonymousLine(0x1000, 0x2000, "r--p").utf8.count
        let perPage = MapsTextCheck.pageTextCapacity / length
        var text = ""
        var address: UInt64 = 0x10_0000
        for index in 0..<(3 * perPage) {
            // A hole before the first line of the second page, and one in
            // the middle of the first page.
            if index == perPage || index == perPage / 2 { address += 0x1000 }
            text += anonymousLine(address, address + 0x1000, index % 2 == 0 ? "r--p" : "---p")
            address += 0x1000
        }
        let result = try check(text)
        #expect(result.findings.map(\.kind) == [.pageBoundaryJump])
        #expect(result.findings.first?.lines.map(\.number) == [perPage, perPage + 1])
        #expect(result.findings.first?.detail.contains("at byte \(perPage * length)") == true)
        #expect(result.verdict == .suspicious)
    }

    /// A hole between two different files at the boundary is how real maps
    /// look; between two pieces of one file it is the suspicious shape.
    @Test func aHoleBetweenDifferentBackingsIsNormal() throws {
        // One line that fills the first page: the next starts the second read.
        let path = "/" + String(repeating: "x", count: MapsTextCheck.pageTextCapacity - 100)
        let first = "00400000-00401000 r--p 00000000 08:02 11 \(path)\n"
        let otherFile = "00500000-00501000 r--p 00000000 08:02 12 /usr/lib/b.so\n"
        let sameFile = "00500000-00501000 r--p 00000000 08:02 11 \(path)\n"
        #expect(try check(first + otherFile).verdict == .noEvidence)
        let result = try check(first + sameFile)
        #expect(result.findings.map(\.kind) == [.pageBoundaryJump])
        #expect(result.findings.first?.lines.map(\.number) == [1, 2])
    }
}

@Suite struct OtherFormats {
    @Test func smapsHeadersAreCheckedWithTheirLineNumbers() throws {
        let fields = "Size:                  4 kB\nRss:                   0 kB\nVmFlags: rd mr mw me ac sd\n"
        let text = anonymousLine(0x1000, 0x2000, "r--p") + fields
            + anonymousLine(0x2000, 0x3000, "rw-p") + fields
            + anonymousLine(0x1000, 0x3000, "rw-p") + fields
        let result = try check(text, format: .smaps)
        #expect(result.lines == 12)
        #expect(result.mappings == 3)
        #expect(result.findings.map(\.kind) == [.overlap])
        #expect(result.findings.first?.lines.map(\.number) == [5, 9])
    }

    /// A line that is neither a header nor a field is not smaps.
    @Test func smapsRejectsOtherText() throws {
        #expect(throws: CheckError.notMaps(
            MapsParseError(line: 2, column: 1, reason: "expected a mapping header or a 'Field: value' line"), format: .smaps)) {
            try check(anonymousLine(0x1000, 0x2000, "r--p") + "hello world\n", format: .smaps)
        }
        #expect(throws: CheckError.notMaps(
            MapsParseError(line: 1, column: 6, reason: "expected ':' after the field name"), format: .smaps)) {
            try check("Hello world\n", format: .smaps)
        }
    }

    @Test func freeBSDRows() throws {
        let text = """
              PID              START                END PRT  RES PRES REF SHD FLAG  TP PATH
            42001           0x200000           0x201000 r--    1    3   2   0 CN--- vn /bin/x
            42001           0x201000           0x202000 rw-    1    1   1   0 C---- sw
            42001           0x201000           0x203000 rw-    1    1   1   0 C---- sw

            """
        let result = try check(text, format: .freebsd)
        #expect(result.mappings == 3)
        #expect(result.findings.map(\.kind) == [.overlap])
        #expect(result.findings.first?.shape == .mergeBetweenReads)
        #expect(result.findings.first?.lines.map(\.number) == [3, 4])
    }

    @Test func aLineNotInTheFormatIsAnError() throws {
        #expect(throws: CheckError.notMaps(
            MapsParseError(line: 2, column: 10, reason: "expected end address in hex"), format: .linux)) {
            try check(anonymousLine(0x1000, 0x2000, "r--p") + "00002000-zz\n")
        }
    }
}

private extension String {
    func replacingNewline() -> String { String(dropLast()) + "\r\n" }
}
