import MapsModel
import Testing

/// The whole-address-space line model, on planted mutation sequences whose
/// resulting lines are written out by hand (as the kernel prints them).
@Suite struct AddressSpaceModelTests {
    static let page: UInt64 = 4096
    static let base: UInt64 = 0x7f00_0000_0000
    static func at(_ page: Int) -> UInt64 { base + UInt64(page) * Self.page }

    static func parse(_ text: String) throws -> [MapsLine] {
        try MapsParser.parseLinux(Array(text.utf8)).lines
    }

    static func text(_ model: AddressSpaceModel) -> String {
        model.mapsLines.map { $0.description + "\n" }.joined()
    }

    /// A program image, a heap, a library, the stack and the vDSO.
    static let initial = """
        555555554000-555555556000 r--p 00000000 fe:00 100 /usr/bin/prog
        555555556000-555555558000 r-xp 00002000 fe:00 100 /usr/bin/prog
        555555558000-555555559000 rw-p 00004000 fe:00 100 /usr/bin/prog
        555555559000-55555557a000 rw-p 00000000 00:00 0 [heap]
        7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0 [vdso]
        7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]

        """

    @Test func mmapMprotectMunmapSplitAndMergeAnonymousLines() throws {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.map(start: Self.at(0), length: 8 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        // A second mapping right above, same protection: one line.
        model.apply(.map(start: Self.at(8), length: 4 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        #expect(model.mapsLines == [MapsLine(start: Self.at(0), end: Self.at(12), permissions: Permissions(prot: 3))])
        model.apply(.protect(start: Self.at(2), length: 2 * Self.page, prot: 1, protectionKey: 0))
        #expect(model.mapsLines.map { "\($0.start)-\($0.end) \($0.permissions)" } == [
            "\(Self.at(0))-\(Self.at(2)) rw-p", "\(Self.at(2))-\(Self.at(4)) r--p", "\(Self.at(4))-\(Self.at(12)) rw-p",
        ])
        // Protected back: the three lines merge again.
        model.apply(.protect(start: Self.at(2), length: 2 * Self.page, prot: 3, protectionKey: 0))
        #expect(model.lineCount == 1)
        // A protection key keeps a line apart although its permissions are the same.
        model.apply(.protect(start: Self.at(5), length: Self.page, prot: 3, protectionKey: 1))
        #expect(model.lineCount == 3)
        model.apply(.unmap(start: Self.at(4), length: 3 * Self.page))
        #expect(model.mapsLines.map(\.start) == [Self.at(0), Self.at(7)])
    }

    @Test func fileBackedLinesKeepTheirOffsetsAndMergeOnlyWhenContiguous() throws {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        let file = FileIdentity(deviceMajor: 0xfe, deviceMinor: 0, inode: 42, path: "/tmp/data")
        model.apply(.map(start: Self.at(0), length: 8 * Self.page, prot: 3, flags: 0x01, offset: 0, file: file))
        model.apply(.protect(start: Self.at(3), length: Self.page, prot: 1, protectionKey: 0))
        #expect(Self.text(model) == """
            7f0000000000-7f0000003000 rw-s 00000000 fe:00 42                         /tmp/data
            7f0000003000-7f0000004000 r--s 00003000 fe:00 42                         /tmp/data
            7f0000004000-7f0000008000 rw-s 00004000 fe:00 42                         /tmp/data

            """)
        // The same file mapped right above at a non-contiguous offset: its own line.
        model.apply(.map(start: Self.at(8), length: Self.page, prot: 3, flags: 0x01, offset: 0, file: file))
        #expect(model.lineCount == 4)
        // Contiguous offset: it joins the line below.
        model.apply(.map(start: Self.at(8), length: Self.page, prot: 3, flags: 0x11, offset: 8 * Self.page, file: file))
        #expect(model.lineCount == 3)
        #expect(model.mapsLines.last?.end == Self.at(9))
        // A shared anonymous mapping is /dev/zero (deleted).
        model.apply(.map(start: Self.at(20), length: Self.page, prot: 3, flags: 0x21, offset: 0, file: nil))
        #expect(model.mapsLines.last?.path == "/dev/zero (deleted)")
    }

    @Test func brkGrowsAndShrinksTheHeapLine() throws {
        var model = AddressSpaceModel(initial: try Self.parse(Self.initial), pageSize: Self.page)
        // brk(0) asks; brk(+0x10800) grows (the line ends at the page above the break).
        model.apply(.brk(requested: 0, result: 0x5555_5557_a000))
        model.apply(.brk(requested: 0x5555_5558_a800, result: 0x5555_5558_a800))
        let heap = try #require(model.mapsLines.first { $0.path == "[heap]" })
        #expect(heap.start == 0x5555_5555_9000 && heap.end == 0x5555_5558_b000)
        // mprotect splits it: every part is still named [heap].
        model.apply(.protect(start: 0x5555_5556_0000, length: Self.page, prot: 1, protectionKey: 0))
        #expect(model.mapsLines.filter { $0.path == "[heap]" }.count == 3)
        // Shrunk below the protected page: one [heap] line again.
        model.apply(.brk(requested: 0x5555_5555_f000, result: 0x5555_5555_f000))
        #expect(model.mapsLines.filter { $0.path == "[heap]" }.map { "\(hex($0.start, width: 1))-\(hex($0.end, width: 1))" }
            == ["555555559000-55555555f000"])
        // A failed brk returns the old break: nothing changes.
        let before = model.mapsLines
        model.apply(.brk(requested: 0x7000_0000_0000, result: 0x5555_5555_f000))
        #expect(model.mapsLines == before)
    }

    @Test func mremapMovesGrowsAndShrinks() throws {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        let file = FileIdentity(deviceMajor: 8, deviceMinor: 1, inode: 7, path: "/lib/x.so")
        model.apply(.map(start: Self.at(0), length: 4 * Self.page, prot: 1, flags: 0x02, offset: 0x3000, file: file))
        // Moved (MREMAP_MAYMOVE | MREMAP_FIXED) and grown: the offset moves with it.
        model.apply(.remap(old: Self.at(2), oldLength: 2 * Self.page, newLength: 3 * Self.page, flags: 3, result: Self.at(10)))
        #expect(Self.text(model) == """
            7f0000000000-7f0000002000 r--p 00003000 08:01 7                          /lib/x.so
            7f000000a000-7f000000d000 r--p 00005000 08:01 7                          /lib/x.so

            """)
        // Shrunk in place.
        model.apply(.remap(old: Self.at(10), oldLength: 3 * Self.page, newLength: Self.page, flags: 0, result: Self.at(10)))
        #expect(model.mapsLines.last?.end == Self.at(11))
        // Grown in place.
        model.apply(.remap(old: Self.at(0), oldLength: 2 * Self.page, newLength: 5 * Self.page, flags: 0, result: Self.at(0)))
        #expect(model.mapsLines.first?.end == Self.at(5))
    }

    /// VM_ACCOUNT (mprotect_fixup): a page made writable is charged, and
    /// uncharged when made unwritable again if it has no anon_vma; a line
    /// that may have pages (from a quiescent read) stays charged and apart.
    @Test func writableThenUnwritableAgainMergesBackUnlessItMayHavePages() throws {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.map(start: Self.at(0), length: 3 * Self.page, prot: 0, flags: 0x22, offset: 0, file: nil))
        model.apply(.protect(start: Self.at(1), length: Self.page, prot: 3, protectionKey: 0))
        #expect(model.lineCount == 3)
        model.apply(.protect(start: Self.at(1), length: Self.page, prot: 0, protectionKey: 0))
        #expect(model.lineCount == 1)
        // The seed's own pattern: every page of an unwritten arena rw then ---, one line in the end.
        for page in 0..<3 {
            model.apply(.protect(start: Self.at(page), length: Self.page, prot: 3, protectionKey: 0))
            if page > 0 { model.apply(.protect(start: Self.at(page - 1), length: Self.page, prot: 0, protectionKey: 0)) }
        }
        model.apply(.protect(start: Self.at(2), length: Self.page, prot: 0, protectionKey: 0))
        #expect(model.lineCount == 1)
        // A writable line of a quiescent read may have pages: made
        // unwritable, it keeps VM_ACCOUNT and stays apart from a fresh --- neighbour.
        let read = try Self.parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n")
        var other = AddressSpaceModel(initial: read, pageSize: Self.page)
        other.apply(.map(start: Self.at(1), length: Self.page, prot: 0, flags: 0x22, offset: 0, file: nil))
        other.apply(.protect(start: Self.at(0), length: Self.page, prot: 0, protectionKey: 0))
        #expect(other.lineCount == 2)
    }

    @Test func madviseAndMlockSplitLinesWithoutChangingTheirProtection() throws {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.map(start: Self.at(0), length: 8 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        model.apply(.advise(start: Self.at(2), length: 2 * Self.page, advice: 10))  // MADV_DONTFORK
        #expect(model.lineCount == 3)
        model.apply(.advise(start: Self.at(2), length: 2 * Self.page, advice: 11))  // MADV_DOFORK
        #expect(model.lineCount == 1)
        model.apply(.lock(start: Self.at(6), length: Self.page, locked: true))
        #expect(model.lineCount == 3)
        model.apply(.lockAll(locked: true, future: false))
        #expect(model.lineCount == 1)
        // MADV_DONTNEED frees pages, it does not change the VMA.
        #expect(AddressSpaceModel.madviseFlag(4) == nil)
    }

    @Test func linesOfTheInitialReadStayApartAndForkedLinesDoNotMergeWithFreshOnes() throws {
        // Two adjacent anonymous rw-p lines the kernel kept apart: the model keeps them apart.
        let two = try Self.parse("""
            7f0000000000-7f0000002000 rw-p 00000000 00:00 0
            7f0000002000-7f0000004000 rw-p 00000000 00:00 0

            """)
        var model = AddressSpaceModel(initial: two, pageSize: Self.page)
        #expect(model.lineCount == 2)
        // A fresh mapping above joins the line below it (it has no pages yet).
        model.apply(.map(start: Self.at(4), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        #expect(model.lineCount == 2 && model.mapsLines.last?.end == Self.at(5))
        // In a forked child the inherited line has pages shared with the parent: no merge.
        var child = AddressSpaceModel(initial: two, pageSize: Self.page, forked: true)
        child.apply(.map(start: Self.at(4), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        #expect(child.lineCount == 3)
        // Pieces of one inherited line join again.
        child.apply(.protect(start: Self.at(0), length: Self.page, prot: 1, protectionKey: 0))
        child.apply(.protect(start: Self.at(0), length: Self.page, prot: 3, protectionKey: 0))
        #expect(child.lineCount == 3)
    }

    @Test func hashSumsFollowTheLines() throws {
        var model = AddressSpaceModel(initial: try Self.parse(Self.initial), pageSize: Self.page)
        var paged = model
        model.keepHashes(.exact)
        paged.keepHashes(.pageLevel)
        let lines = model.mapsLines
        #expect(LineHash.sums(lines).exact == model.exactHash)
        #expect(LineHash.sums(lines).pageLevel == paged.pageHash)
        // Kept up to date through splits, changes and merges.
        for mutation: LineMutation in [
            .map(start: Self.at(0), length: 8 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil),
            .protect(start: Self.at(2), length: Self.page, prot: 1, protectionKey: 0),
            .brk(requested: 0x5555_5558_0000, result: 0x5555_5558_0000),
            .unmap(start: Self.at(5), length: Self.page),
        ] {
            model.apply(mutation)
            paged.apply(mutation)
        }
        let now = LineHash.sums(model.mapsLines)
        #expect(now.exact == model.exactHash && now.pageLevel == paged.pageHash)
        #expect(model.mapsLines == paged.mapsLines)
        // Page level: two lines that only differ in where they split sum to the same.
        let whole = MapsLine(start: Self.at(0), end: Self.at(4), permissions: Permissions(prot: 3))
        var low = whole, high = whole
        low.end = Self.at(1)
        high.start = Self.at(1)
        #expect(LineHash.pageLevel(whole) == LineHash.pageLevel(low) &+ LineHash.pageLevel(high))
        #expect(LineHash.exact(whole) != LineHash.exact(low) &+ LineHash.exact(high))
        // The lines no syscall explains count nothing.
        #expect(lines.filter { SpecialLines.isSpecial($0.path) }.allSatisfy { LineHash.exact($0) == 0 })
    }

    /// A forged trace can log any arguments as a success: ranges that wrap
    /// or are empty change nothing, and nothing traps.
    @Test func forgedArgumentsChangeNothingAndDoNotTrap() throws {
        var model = AddressSpaceModel(initial: try Self.parse(Self.initial), pageSize: Self.page)
        model.keepHashes(.exact)
        let before = model.mapsLines
        let huge = UInt64.max - 100
        for mutation: LineMutation in [
            .map(start: huge, length: 1 << 20, prot: 3, flags: 0x22, offset: 0, file: nil),
            .map(start: 0, length: 0, prot: 3, flags: 0x22, offset: 0, file: nil),
            .unmap(start: huge, length: UInt64.max),
            .protect(start: 0x5555_5555_4000, length: UInt64.max, prot: 0, protectionKey: 0),
            .remap(old: huge, oldLength: 1 << 30, newLength: 1 << 30, flags: 3, result: 0),
            .remap(old: 0, oldLength: 0, newLength: 4096, flags: 0, result: 0),
            .remap(old: 0x5555_5555_4000, oldLength: 4096, newLength: 4096, flags: 3, result: huge),
            .advise(start: huge, length: huge, advice: 10),
            .lock(start: huge, length: huge, locked: true),
        ] {
            model.apply(mutation)
        }
        #expect(model.mapsLines == before)
        #expect(model.exactHash == LineHash.sum(model.mapsLines, .exact))
    }

    @Test func manyLinesStayInOrder() throws {
        // 2000 single-page lines (alternating protections) in a store of chunks.
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.keepHashes(.exact)
        model.apply(.map(start: Self.at(0), length: 4000 * Self.page, prot: 0, flags: 0x22, offset: 0, file: nil))
        for i in stride(from: 0, to: 4000, by: 2) {
            model.apply(.protect(start: Self.at(i), length: Self.page, prot: 1, protectionKey: 0))
        }
        #expect(model.lineCount == 4000)
        #expect(model.exactHash == LineHash.sums(model.mapsLines).exact)
        let lines = model.mapsLines
        #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.end == $1.start })
        for i in stride(from: 0, to: 4000, by: 2) {
            model.apply(.protect(start: Self.at(i), length: Self.page, prot: 0, protectionKey: 0))
        }
        #expect(model.lineCount == 1)
        #expect(model.exactHash == LineHash.sums(model.mapsLines).exact)
    }
}
