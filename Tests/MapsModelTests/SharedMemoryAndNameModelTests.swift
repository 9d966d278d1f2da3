import MapsModel
import Testing

/// shmat/shmdt and prctl(PR_SET_VMA_ANON_NAME) in the whole-address-space
/// model: the lines expected are written out by hand from the kernel's
/// rules (ipc/shm.c do_shmat/ksys_shmdt, mm/madvise.c madvise_set_anon_name,
/// fs/proc/task_mmu.c get_vma_name).
@Suite struct SharedMemoryAndNameModelTests {
    static let page: UInt64 = 4096
    static let base: UInt64 = 0x7f00_0000_0000
    static func at(_ page: Int) -> UInt64 { base + UInt64(page) * Self.page }
    static let segment = FileIdentity(deviceMajor: 0, deviceMinor: 1, inode: 229_376, path: "/SYSV00000000 (deleted)")

    /// Each line as "FIRST-END PERMS [OFFSET-IN-PAGES] PATH", pages counted from `base`.
    static func brief(_ model: AddressSpaceModel) -> [String] {
        model.mapsLines.map { line in
            let first = (line.start - base) / page, end = (line.end - base) / page
            let offset = line.inode == 0 ? "" : " @\(line.offset / page)"
            return "\(first)-\(end) \(line.permissions)\(offset) \(line.path)".trimmingSuffix()
        }
    }

    @Test func attachesShowTheSegmentWithTheCallsProtectionAndNeverMerge() {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        // 3 pages + 100 bytes: 4 pages; read-write, then SHM_RDONLY right
        // above, then SHM_EXEC: three lines although the first two are of one segment.
        model.apply(.attach(start: Self.at(0), size: 3 * Self.page + 100, flags: 0, file: Self.segment))
        model.apply(.attach(start: Self.at(4), size: 3 * Self.page + 100, flags: 0o10000, file: Self.segment))
        model.apply(.attach(start: Self.at(8), size: 2 * Self.page, flags: 0o100000, file: Self.segment))
        #expect(Self.brief(model) == [
            "0-4 rw-s @0 /SYSV00000000 (deleted)", "4-8 r--s @0 /SYSV00000000 (deleted)",
            "8-10 rwxs @0 /SYSV00000000 (deleted)",
        ])
        let line = model.mapsLines[0]
        #expect(line.deviceMajor == 0 && line.deviceMinor == 1 && line.inode == 229_376)
        // A page unmapped in the middle: two lines, the second at offset 2.
        model.apply(.unmap(start: Self.at(1), length: Self.page))
        #expect(Self.brief(model).prefix(2) == ["0-1 rw-s @0 /SYSV00000000 (deleted)", "2-4 rw-s @2 /SYSV00000000 (deleted)"])
        // An anonymous mapping in the hole does not join them.
        model.apply(.map(start: Self.at(1), length: Self.page, prot: 3, flags: 0x21, offset: 0, file: nil))
        #expect(model.lineCount == 5)
        // shmdt of the first attach takes both its pieces and nothing else.
        model.apply(.detach(address: Self.at(0)))
        #expect(Self.brief(model) == [
            "1-2 rw-s /dev/zero (deleted)", "4-8 r--s @0 /SYSV00000000 (deleted)", "8-10 rwxs @0 /SYSV00000000 (deleted)",
        ])
        // SHM_REMAP over an occupied range replaces what was there.
        model.apply(.attach(start: Self.at(7), size: Self.page, flags: 0o40000, file: Self.segment))
        #expect(Self.brief(model)[1...2] == ["4-7 r--s @0 /SYSV00000000 (deleted)", "7-8 rw-s @0 /SYSV00000000 (deleted)"])
    }

    @Test func shmdtFindsTheAttachByOffsetAndStopsAtItsSize() {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.attach(start: Self.at(0), size: 4 * Self.page, flags: 0, file: Self.segment))
        model.apply(.attach(start: Self.at(4), size: 4 * Self.page, flags: 0, file: Self.segment))
        // The first page of the first attach is gone: shmdt at its address
        // still finds the attach by the next line's offset (1 page from it).
        model.apply(.unmap(start: Self.at(0), length: Self.page))
        model.apply(.detach(address: Self.at(0)))
        #expect(Self.brief(model) == ["4-8 rw-s @0 /SYSV00000000 (deleted)"])
        // Nothing attached at or above an address: nothing changes.
        model.apply(.detach(address: Self.at(9)))
        #expect(model.lineCount == 1)
        // An attach moved below another's address: its offset does not match, it stays.
        model.apply(.attach(start: Self.at(20), size: 2 * Self.page, flags: 0, file: Self.segment))
        model.apply(.unmap(start: Self.at(4), length: Self.page))
        model.apply(.detach(address: Self.at(4)))
        #expect(Self.brief(model) == ["20-22 rw-s @0 /SYSV00000000 (deleted)"])
    }

    @Test func attachesOfAnInitialReadAreGroupedAndDetachedWhole() throws {
        let initial = try MapsParser.parseLinux(Array("""
            7f0000000000-7f0000001000 rw-s 00000000 00:01 5 /SYSV00000000 (deleted)
            7f0000002000-7f0000004000 rw-s 00002000 00:01 5 /SYSV00000000 (deleted)
            7f0000004000-7f0000006000 rw-s 00000000 00:01 5 /SYSV00000000 (deleted)

            """.utf8)).lines
        var model = AddressSpaceModel(initial: initial, pageSize: Self.page)
        model.apply(.detach(address: Self.at(0)))
        // The first two lines are one attach (consistent offsets); the third starts over at 0.
        #expect(Self.brief(model) == ["4-6 rw-s @0 /SYSV00000000 (deleted)"])
    }

    @Test func namesSplitAndMergeAnonymousLines() {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.map(start: Self.at(0), length: 8 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        model.apply(.name(start: Self.at(0), length: 4 * Self.page, name: "alpha"))
        #expect(Self.brief(model) == ["0-4 rw-p [anon:alpha]", "4-8 rw-p"])
        // Part of a named range renamed: three lines of it.
        model.apply(.name(start: Self.at(1), length: Self.page, name: "beta"))
        #expect(Self.brief(model) == ["0-1 rw-p [anon:alpha]", "1-2 rw-p [anon:beta]", "2-4 rw-p [anon:alpha]", "4-8 rw-p"])
        // A name cleared (NULL).
        model.apply(.name(start: Self.at(2), length: Self.page, name: nil))
        #expect(Self.brief(model) == [
            "0-1 rw-p [anon:alpha]", "1-2 rw-p [anon:beta]", "2-3 rw-p", "3-4 rw-p [anon:alpha]", "4-8 rw-p",
        ])
        // Renamed back as its neighbour: merged with it.
        model.apply(.name(start: Self.at(1), length: Self.page, name: "alpha"))
        #expect(Self.brief(model) == ["0-2 rw-p [anon:alpha]", "2-3 rw-p", "3-4 rw-p [anon:alpha]", "4-8 rw-p"])
        // Cleared where it is already unnamed: nothing splits.
        model.apply(.name(start: Self.at(4), length: 2 * Self.page, name: nil))
        #expect(model.lineCount == 4)
        // Every name cleared: one line again.
        model.apply(.name(start: Self.at(0), length: 8 * Self.page, name: nil))
        #expect(Self.brief(model) == ["0-8 rw-p"])
        // A new unnamed mapping next to a named line stays apart; one of the same name... is still new (unnamed).
        model.apply(.name(start: Self.at(0), length: 8 * Self.page, name: "alpha"))
        model.apply(.map(start: Self.at(8), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        #expect(Self.brief(model) == ["0-8 rw-p [anon:alpha]", "8-9 rw-p"])
        model.apply(.name(start: Self.at(8), length: Self.page, name: "alpha"))
        #expect(Self.brief(model) == ["0-9 rw-p [anon:alpha]"])
    }

    @Test func aNameAcrossTwoMappingsSplitsBothAndKeepsThemApart() {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        model.apply(.map(start: Self.at(0), length: 2 * Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        model.apply(.map(start: Self.at(2), length: 2 * Self.page, prot: 1, flags: 0x22, offset: 0, file: nil))
        model.apply(.name(start: Self.at(1), length: 2 * Self.page, name: "gamma"))
        #expect(Self.brief(model) == ["0-1 rw-p", "1-2 rw-p [anon:gamma]", "2-3 r--p [anon:gamma]", "3-4 r--p"])
        // Made the same protection: the named pages merge, the unnamed stay apart.
        model.apply(.protect(start: Self.at(0), length: 4 * Self.page, prot: 1, protectionKey: 0))
        #expect(Self.brief(model) == ["0-1 r--p", "1-3 r--p [anon:gamma]", "3-4 r--p"])
        // Moved by mremap, the name goes with the line.
        model.apply(.remap(old: Self.at(1), oldLength: 2 * Self.page, newLength: 2 * Self.page, flags: 3, result: Self.at(10)))
        #expect(Self.brief(model) == ["0-1 r--p", "3-4 r--p", "10-12 r--p [anon:gamma]"])
    }

    @Test func sharedAnonymousLinesAreNamedAnonShmemAndTheWalkStopsAtAFile() {
        var model = AddressSpaceModel(initial: [], pageSize: Self.page)
        let file = FileIdentity(deviceMajor: 0xfe, deviceMinor: 0, inode: 42, path: "/tmp/data")
        model.apply(.map(start: Self.at(0), length: Self.page, prot: 3, flags: 0x21, offset: 0, file: nil))
        model.apply(.map(start: Self.at(1), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        model.apply(.map(start: Self.at(2), length: Self.page, prot: 3, flags: 0x02, offset: 0, file: file))
        model.apply(.map(start: Self.at(3), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        model.apply(.attach(start: Self.at(5), size: Self.page, flags: 0, file: FileIdentity(
            deviceMajor: 0, deviceMinor: 0, inode: 0, path: "/SYSV00000000 (deleted)")))
        model.apply(.map(start: Self.at(6), length: Self.page, prot: 3, flags: 0x22, offset: 0, file: nil))
        // Over all of it: the shared one shows [anon_shmem:], the private
        // one [anon:]; the file stops the walk (EBADF), the last page stays unnamed.
        model.apply(.name(start: Self.at(0), length: 4 * Self.page, name: "delta"))
        #expect(Self.brief(model) == [
            "0-1 rw-s [anon_shmem:delta]", "1-2 rw-p [anon:delta]", "2-3 rw-p @0 /tmp/data", "3-4 rw-p",
            "5-6 rw-s /SYSV00000000 (deleted)", "6-7 rw-p",
        ])
        // A SysV segment (even with inode 0 and device 0:0) is not anonymous: the walk stops there too.
        model.apply(.name(start: Self.at(5), length: 2 * Self.page, name: "epsilon"))
        #expect(Self.brief(model).suffix(2) == ["5-6 rw-s /SYSV00000000 (deleted)", "6-7 rw-p"])
        // Cleared: /dev/zero (deleted) again.
        model.apply(.name(start: Self.at(0), length: Self.page, name: nil))
        #expect(Self.brief(model)[0] == "0-1 rw-s /dev/zero (deleted)")
    }
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// What the host kernel showed for the same calls (Linux 6.18, a 4-page
/// segment): a protection change that cuts an attach line at its edge lets
/// the cut part join its neighbour; one that covers a line whole does not
/// (the shm VMA would be removed: vm_ops->close).
@Suite struct SharedMemoryProtectionTests {
    typealias T = SharedMemoryAndNameModelTests

    @Test func aCutPieceJoinsItsNeighbourAWholeLineDoesNot() {
        var model = AddressSpaceModel(initial: [], pageSize: T.page)
        model.apply(.attach(start: T.at(0), size: 4 * T.page, flags: 0, file: T.segment))
        model.apply(.protect(start: T.at(1), length: 3 * T.page, prot: 1, protectionKey: 0))
        #expect(T.brief(model) == ["0-1 rw-s @0 /SYSV00000000 (deleted)", "1-4 r--s @1 /SYSV00000000 (deleted)"])
        // Cut at 2: page 1 joins the line below (a boundary moves).
        model.apply(.protect(start: T.at(1), length: T.page, prot: 3, protectionKey: 0))
        #expect(T.brief(model) == ["0-2 rw-s @0 /SYSV00000000 (deleted)", "2-4 r--s @2 /SYSV00000000 (deleted)"])
        model.apply(.protect(start: T.at(3), length: T.page, prot: 3, protectionKey: 0))
        #expect(T.brief(model) == [
            "0-2 rw-s @0 /SYSV00000000 (deleted)", "2-3 r--s @2 /SYSV00000000 (deleted)",
            "3-4 rw-s @3 /SYSV00000000 (deleted)",
        ])
        // Page 2 made writable whole: no line may go, all three stay.
        model.apply(.protect(start: T.at(2), length: T.page, prot: 3, protectionKey: 0))
        #expect(model.lineCount == 3)
        #expect(model.mapsLines.allSatisfy { $0.permissions.description == "rw-s" })
        // Unchanged protection over part of a line: nothing splits.
        model.apply(.protect(start: T.at(0), length: T.page, prot: 3, protectionKey: 0))
        #expect(model.lineCount == 3)
    }

    @Test func aWholeLineProtectedAndBackStaysAlone() {
        var model = AddressSpaceModel(initial: [], pageSize: T.page)
        model.apply(.attach(start: T.at(0), size: 4 * T.page, flags: 0, file: T.segment))
        model.apply(.protect(start: T.at(1), length: T.page, prot: 1, protectionKey: 0))
        model.apply(.protect(start: T.at(1), length: T.page, prot: 3, protectionKey: 0))
        model.apply(.protect(start: T.at(3), length: T.page, prot: 1, protectionKey: 0))
        model.apply(.protect(start: T.at(2), length: 2 * T.page, prot: 3, protectionKey: 0))
        // The host showed four rw-s lines at offsets 0, 1, 2, 3.
        #expect(T.brief(model) == (0..<4).map { "\($0)-\($0 + 1) rw-s @\($0) /SYSV00000000 (deleted)" })
    }
}
