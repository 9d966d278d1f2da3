import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

// The workloads beyond the seed's, after the kernel's own test of the race
// (tools/testing/selftests/proc/proc-maps-race.c): split and merge, resize,
// remap, plus churn. Each:
// - starts from the arena as `Arena` maps it (one PROT_NONE private
//   anonymous mapping between two shared guard pages);
// - makes every change inside it with MAP_FIXED, every mmap with the same
//   flags as the arena's (`mapFlags`), so the kernel merges what the model
//   merges;
// - makes every call, setup included, through its `MutationLog`;
// - takes its randomness from `SplitMix64(seed)` inside the loop (a few
//   integer operations: the same seed gives the same syscall sequence);
// - issues exactly `Plan.mutationCount` mutations in a complete run.
// The `Plan` of each is its geometry and counts, computed from the page count
// alone, for the log's size, the vm.max_map_count check and the trace header.

/// The page address of arena page `index`.
@inline(__always)
private func pageAddress(_ first: UnsafeMutableRawPointer, _ index: Int, _ pageSize: Int) -> UnsafeMutableRawPointer {
    first + index * pageSize
}

extension LoggingMutator {
    /// The setup of the cell workloads: the first `mappedPages` pages of
    /// every `cellPages`-page cell mmap'd with `prot`, the rest left as the
    /// arena was mapped.
    func mapCells(on arena: Arena, cells: Int, cellPages: Int, mappedPages: Int, prot: Int32, flags: Int32) -> Bool {
        for cell in 0..<cells {
            let address = pageAddress(arena.firstPage, cell * cellPages, arena.pageSize)
            guard log.map(address, mappedPages * arena.pageSize, prot, flags: flags) else { return false }
        }
        return true
    }
}

/// A uniform index in `0..<bound`.
@inline(__always)
private func randomIndex(_ generator: inout SplitMix64, below bound: Int) -> Int {
    Int(generator.next(below: UInt64(bound)))
}

// MARK: - split-merge

/// The arena is cut into groups of `groupPages` pages, alternately PROT_NONE
/// (even groups: the arena as mapped) and PROT_READ (odd groups: mmap'd in
/// the setup), so every group is one line. Each iteration picks a group and
/// one of its inner pages at random, mmaps that page read-write (the group
/// splits into three lines), then mmaps it back with the group's protection
/// (the three merge into one again). At every instant 0 or 1 arena page is
/// read-write.
final class SplitMergeMutator: LoggingMutator {
    static let groupPages = 4
    static let splitProtection = PROT_READ | PROT_WRITE

    struct Plan {
        let pageCount: Int
        var groups: Int { pageCount / SplitMergeMutator.groupPages }
        /// Two mutations each.
        var iterations: Int { pageCount }
        var setupCount: Int { groups / 2 }
        var mutationCount: Int { setupCount + 2 * iterations }
        /// Every group, the leftover pages, and two more while one is split.
        var maximumLines: Int { groups + 1 + 2 }

        init(pageCount: Int) { self.pageCount = pageCount }

        var traceParameters: [TraceParameter] {
            [
                TraceParameter("group_pages", "\(SplitMergeMutator.groupPages)"),
                TraceParameter("groups", "\(groups)"),
                TraceParameter("group_prot", "even:---,odd:r--"),
                TraceParameter("split_prot", protectionName(SplitMergeMutator.splitProtection)),
                TraceParameter("iterations", "\(iterations)"),
            ]
        }

        /// The protection group `group` has outside its split.
        @inline(__always)
        static func protection(ofGroup group: Int) -> Int32 { group % 2 == 1 ? PROT_READ : PROT_NONE }
    }

    let plan: Plan
    let log: MutationLog
    private let seed: UInt64
    private let mapFlags: Int32

    init(plan: Plan, seed: UInt64, mapFlags: Int32, logMutations: Bool) throws(RecordingError) {
        self.plan = plan
        self.seed = seed
        self.mapFlags = mapFlags
        log = try MutationLog(capacity: plan.mutationCount, logging: logMutations)
    }

    func runSetup(on arena: Arena) -> Bool {
        let length = Self.groupPages * arena.pageSize
        var group = 1
        while group < plan.groups {
            let address = pageAddress(arena.firstPage, group * Self.groupPages, arena.pageSize)
            guard log.map(address, length, PROT_READ, flags: mapFlags) else { return false }
            group += 2
        }
        return true
    }

    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        let groups = plan.groups
        let innerPages = Self.groupPages - 2
        var generator = SplitMix64(seed: seed)
        for _ in 0..<plan.iterations {
            if StopSignal.received != 0 { break }
            let group = randomIndex(&generator, below: groups)
            let page = group * Self.groupPages + 1 + randomIndex(&generator, below: innerPages)
            let address = pageAddress(first, page, pageSize)
            guard log.map(address, pageSize, Self.splitProtection, flags: mapFlags),
                  log.map(address, pageSize, Plan.protection(ofGroup: group), flags: mapFlags)
            else { break }
        }
    }
}

// MARK: - resize

/// The arena is cut into cells of `cellPages` pages: a PROT_READ mapping of
/// `mappingPages` pages (mmap'd in the setup), then PROT_NONE pages that keep
/// it apart from the next cell's. Each iteration picks a cell at random and
/// mremaps its mapping in place down to `shrunkPages` page (the rest becomes
/// a hole) and back (the mapping grows over the hole).
final class ResizeMutator: LoggingMutator {
    static let cellPages = 4
    static let mappingPages = 3
    static let shrunkPages = 1

    struct Plan {
        let pageCount: Int
        var cells: Int { pageCount / ResizeMutator.cellPages }
        /// Two mutations each (in-place mremaps are quick: three times the
        /// others' iterations keep the loop as long).
        var iterations: Int { 3 * pageCount }
        var setupCount: Int { cells }
        var mutationCount: Int { setupCount + 2 * iterations }
        /// A mapping and a separator per cell, and the leftover pages.
        var maximumLines: Int { 2 * cells + 1 }

        init(pageCount: Int) { self.pageCount = pageCount }

        var traceParameters: [TraceParameter] {
            [
                TraceParameter("cell_pages", "\(ResizeMutator.cellPages)"),
                TraceParameter("cells", "\(cells)"),
                TraceParameter("mapping_pages", "\(ResizeMutator.mappingPages)"),
                TraceParameter("shrunk_pages", "\(ResizeMutator.shrunkPages)"),
                TraceParameter("mapping_prot", protectionName(PROT_READ)),
                TraceParameter("iterations", "\(iterations)"),
            ]
        }
    }

    let plan: Plan
    let log: MutationLog
    private let seed: UInt64
    private let mapFlags: Int32

    init(plan: Plan, seed: UInt64, mapFlags: Int32, logMutations: Bool) throws(RecordingError) {
        self.plan = plan
        self.seed = seed
        self.mapFlags = mapFlags
        log = try MutationLog(capacity: plan.mutationCount, logging: logMutations)
    }

    func runSetup(on arena: Arena) -> Bool {
        mapCells(on: arena, cells: plan.cells, cellPages: Self.cellPages, mappedPages: Self.mappingPages,
                 prot: PROT_READ, flags: mapFlags)
    }

    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        let full = Self.mappingPages * pageSize
        let shrunk = Self.shrunkPages * pageSize
        var generator = SplitMix64(seed: seed)
        for _ in 0..<plan.iterations {
            if StopSignal.received != 0 { break }
            let address = pageAddress(first, randomIndex(&generator, below: plan.cells) * Self.cellPages, pageSize)
            guard log.remap(address, full, to: shrunk, flags: 0),
                  log.remap(address, shrunk, to: full, flags: 0)
            else { break }
        }
    }
}

// MARK: - remap

/// The arena is cut into cells of `cellPages` pages: a PROT_READ host
/// mapping of `hostPages` pages (mmap'd in the setup), then one PROT_NONE
/// donor page (the arena as mapped). Each iteration picks a cell at random
/// and, as the kernel selftest does:
/// 1. mremaps (MAYMOVE | FIXED | DONTUNMAP) the donor page onto the host's
///    middle page: the host splits into three lines, the middle one
///    PROT_NONE; the donor stays mapped (DONTUNMAP);
/// 2. mprotects that page PROT_READ again: "restore". Since the arena is
///    never faulted in, the kernel gave the moved page the page offset of its
///    new address, so it merges with the host again and the cell is back to
///    where it started: the loop can run for ever without adding lines.
final class RemapMutator: LoggingMutator {
    static let cellPages = 4
    static let hostPages = 3
    static let movedFlags = mremapMayMove | mremapFixed | mremapDontUnmap

    struct Plan {
        let pageCount: Int
        var cells: Int { pageCount / RemapMutator.cellPages }
        /// Two mutations each.
        var iterations: Int { pageCount }
        var setupCount: Int { cells }
        var mutationCount: Int { setupCount + 2 * iterations }
        /// Host and donor per cell, two more while one host is split, and
        /// the leftover pages.
        var maximumLines: Int { 2 * cells + 2 + 1 }

        init(pageCount: Int) { self.pageCount = pageCount }

        var traceParameters: [TraceParameter] {
            [
                TraceParameter("cell_pages", "\(RemapMutator.cellPages)"),
                TraceParameter("cells", "\(cells)"),
                TraceParameter("host_pages", "\(RemapMutator.hostPages)"),
                TraceParameter("host_prot", protectionName(PROT_READ)),
                TraceParameter("donor_prot", protectionName(PROT_NONE)),
                TraceParameter("mremap_flags", "MAYMOVE|FIXED|DONTUNMAP"),
                TraceParameter("restore", "mprotect"),
                TraceParameter("iterations", "\(iterations)"),
            ]
        }
    }

    let plan: Plan
    let log: MutationLog
    private let seed: UInt64
    private let mapFlags: Int32

    init(plan: Plan, seed: UInt64, mapFlags: Int32, logMutations: Bool) throws(RecordingError) {
        self.plan = plan
        self.seed = seed
        self.mapFlags = mapFlags
        log = try MutationLog(capacity: plan.mutationCount, logging: logMutations)
    }

    func runSetup(on arena: Arena) -> Bool {
        mapCells(on: arena, cells: plan.cells, cellPages: Self.cellPages, mappedPages: Self.hostPages,
                 prot: PROT_READ, flags: mapFlags)
    }

    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        var generator = SplitMix64(seed: seed)
        for _ in 0..<plan.iterations {
            if StopSignal.received != 0 { break }
            let cell = randomIndex(&generator, below: plan.cells) * Self.cellPages
            let middle = pageAddress(first, cell + Self.hostPages / 2, pageSize)
            let donor = pageAddress(first, cell + Self.hostPages, pageSize)
            guard log.remap(donor, pageSize, to: pageSize, flags: Self.movedFlags, newAddress: middle),
                  log.protect(middle, pageSize, PROT_READ)
            else { break }
        }
    }
}

// MARK: - churn

/// The setup mmaps the arena as cells of `largestMappingPages` pages, with
/// protections r--, rw-, --- in turn (every cell one line). Each iteration
/// then picks a page and a length of 1 to `largestMappingPages` pages at
/// random (clipped at the arena's end) and either munmaps that range (one
/// time in four) or mmaps it with a random protection of the three: lines
/// appear, disappear, split and merge all over the arena.
final class ChurnMutator: LoggingMutator {
    static let largestMappingPages = 4
    static let protections: [Int32] = [PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE]
    /// One draw in `unmapOdds` unmaps.
    static let unmapOdds = 4

    struct Plan {
        let pageCount: Int
        var cells: Int { pageCount / ChurnMutator.largestMappingPages }
        /// One mutation each.
        var iterations: Int { 2 * pageCount }
        var setupCount: Int { cells }
        var mutationCount: Int { setupCount + iterations }

        init(pageCount: Int) { self.pageCount = pageCount }

        var traceParameters: [TraceParameter] {
            [
                TraceParameter("largest_mapping_pages", "\(ChurnMutator.largestMappingPages)"),
                TraceParameter("prots", ChurnMutator.protections.map(protectionName).joined(separator: ",")),
                TraceParameter("unmap_odds", "1/\(ChurnMutator.unmapOdds)"),
                TraceParameter("iterations", "\(iterations)"),
            ]
        }
    }

    let plan: Plan
    let log: MutationLog
    private let seed: UInt64
    private let mapFlags: Int32
    /// `protections`, in preallocated memory for the loop.
    private let protectionTable: PreallocatedRegion

    init(plan: Plan, seed: UInt64, mapFlags: Int32, logMutations: Bool) throws(RecordingError) {
        self.plan = plan
        self.seed = seed
        self.mapFlags = mapFlags
        log = try MutationLog(capacity: plan.mutationCount, logging: logMutations)
        protectionTable = try PreallocatedRegion(
            byteCount: Self.protections.count * MemoryLayout<Int32>.stride, purpose: "the churn protections")
        let table = protectionTable.bytes.bindMemory(to: Int32.self)
        for (index, prot) in Self.protections.enumerated() { table[index] = prot }
    }

    func runSetup(on arena: Arena) -> Bool {
        let length = Self.largestMappingPages * arena.pageSize
        for cell in 0..<plan.cells {
            let address = pageAddress(arena.firstPage, cell * Self.largestMappingPages, arena.pageSize)
            let prot = Self.protections[cell % Self.protections.count]
            guard log.map(address, length, prot, flags: mapFlags) else { return false }
        }
        return true
    }

    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        let pageCount = plan.pageCount
        let protections = UnsafePointer(protectionTable.bytes.bindMemory(to: Int32.self).baseAddress!)
        let protectionCount = Self.protections.count
        var generator = SplitMix64(seed: seed)
        for _ in 0..<plan.iterations {
            if StopSignal.received != 0 { break }
            let page = randomIndex(&generator, below: pageCount)
            let pages = min(1 + randomIndex(&generator, below: Self.largestMappingPages), pageCount - page)
            let draw = randomIndex(&generator, below: Self.unmapOdds * protectionCount)
            let address = pageAddress(first, page, pageSize)
            let succeeded: Bool
            if draw < protectionCount {
                succeeded = log.unmap(address, pages * pageSize)
            } else {
                succeeded = log.map(address, pages * pageSize, protections[draw % protectionCount], flags: mapFlags)
            }
            guard succeeded else { break }
        }
    }
}
