import MapsTrace

/// What one arena page is at some state: its PROT_* bits, whether the mapping
/// is shared, or unmapped.
public struct PageProtection: Hashable, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(prot: Int32, shared: Bool) {
        rawValue = UInt8(truncatingIfNeeded: prot & 7) | (shared ? 8 : 0)
    }

    public init(_ permissions: Permissions) {
        self.init(prot: permissions.prot, shared: permissions.shared)
    }

    public static let unmapped = PageProtection(rawValue: 0x80)

    public var isMapped: Bool { rawValue & 0x80 == 0 }
    public var isReadWrite: Bool { isMapped && rawValue & 3 == 3 }

    public var permissions: Permissions? {
        isMapped ? Permissions(prot: Int32(rawValue & 7), shared: rawValue & 8 != 0) : nil
    }
}

/// Why the ground truth could not be built from a trace.
public enum ReplayError: Error, Equatable, CustomStringConvertible {
    case arenaNotPageAligned(start: UInt64, end: UInt64, pageSize: UInt64)
    case arenaNotMapped(start: UInt64, end: UInt64)
    case lineStraddlesArena(MapsLine)

    public var description: String {
        switch self {
        case .arenaNotPageAligned(let start, let end, let pageSize):
            "the arena \(addressString(start))-\(addressString(end)) is not aligned to the page size \(pageSize)"
        case .arenaNotMapped(let start, let end):
            "the initial quiescent maps do not cover the arena \(addressString(start))-\(addressString(end))"
        case .lineStraddlesArena(let line):
            "the initial quiescent maps has a line across the arena's edge: \(line)"
        }
    }
}

/// The exact address space of the workload's arena after every mutation:
/// state j is what was mapped after the first j mutations took effect.
///
/// Built from the initial quiescent maps (which shows state `baseState`) and
/// the ordered mutations. Nothing is copied per state: each arena page keeps
/// the short list of changes it went through, so "what was true at state j
/// for this range" costs one look-up per page.
///
/// The model's rule for lines: inside the arena, adjacent pages with the same
/// protection form one mapping (untouched private anonymous memory merges
/// with identical neighbours after mprotect). `validate(against:)` checks that
/// rule against a quiescent read of the real maps.
public final class GroundTruth: @unchecked Sendable {
    public let arena: Range<UInt64>
    public let pageSize: UInt64
    public let pageCount: Int
    /// The state the initial quiescent maps shows.
    public let baseState: Int
    /// The last state: every mutation applied.
    public let finalState: Int
    /// Mutations the model could not place (outside the arena, or a kind it
    /// does not model); the lines they touch cannot be judged exactly.
    public private(set) var unmodeledMutations: [UInt64] = []

    private var initialProtection: [PageProtection]
    // Per-page change history, flattened: the changes of page p are
    // entries historyStart[p] ..< historyStart[p + 1], in state order.
    private var historyStart: [Int32]
    private var historyState: [Int32]
    private var historyProtection: [PageProtection]
    private var historyPrevious: [PageProtection]
    /// Read-write arena pages at each state from `baseState` to `finalState`.
    private var readWriteCount: [Int32]
    /// Each mutation's arena page range (empty when it touched no arena page).
    private var touchedPages: [Range<Int>]

    public init(
        initialMaps: MapsText, arena: Range<UInt64>, pageSize: UInt64,
        mutations: [MutationRecord], baseState: Int
    ) throws(ReplayError) {
        guard pageSize > 0, arena.lowerBound % pageSize == 0, arena.upperBound % pageSize == 0 else {
            throw .arenaNotPageAligned(start: arena.lowerBound, end: arena.upperBound, pageSize: pageSize)
        }
        self.arena = arena
        self.pageSize = pageSize
        pageCount = Int((arena.upperBound - arena.lowerBound) / pageSize)
        self.baseState = min(max(baseState, 0), mutations.count)
        finalState = mutations.count

        var protection = [PageProtection](repeating: .unmapped, count: pageCount)
        for line in initialMaps.lines where line.end > arena.lowerBound && line.start < arena.upperBound {
            guard line.start >= arena.lowerBound, line.end <= arena.upperBound else {
                throw .lineStraddlesArena(line)
            }
            let first = Int((line.start - arena.lowerBound) / pageSize)
            let last = Int((line.end - arena.lowerBound) / pageSize)
            for page in first..<last { protection[page] = PageProtection(line.permissions) }
        }
        initialProtection = protection

        // Apply every mutation from the base state on, page by page, into
        // per-page change lists (first as (page, state, new, old) events).
        var events: [(page: Int32, state: Int32, new: PageProtection, old: PageProtection)] = []
        events.reserveCapacity(mutations.count * 2)
        var touched = [Range<Int>](repeating: 0..<0, count: mutations.count)
        var readWrite = Int32(protection.reduce(0) { $0 + ($1.isReadWrite ? 1 : 0) })
        var counts: [Int32] = [readWrite]
        counts.reserveCapacity(mutations.count - self.baseState + 1)
        var unmodeled: [UInt64] = []

        let pageSizeValue = pageSize
        let arenaRange = arena
        func pages(_ address: UInt64, _ length: UInt64) -> Range<Int>? {
            let end = address &+ length
            guard length > 0, end > address, address < arenaRange.upperBound, end > arenaRange.lowerBound else {
                return nil
            }
            let low = max(address, arenaRange.lowerBound)
            let high = min(end, arenaRange.upperBound)
            let first = Int((low - arenaRange.lowerBound) / pageSizeValue)
            let last = Int((high - arenaRange.lowerBound + pageSizeValue - 1) / pageSizeValue)
            return first..<last
        }
        func set(_ page: Int, _ value: PageProtection, state: Int) {
            let old = protection[page]
            guard old != value else { return }
            if old.isReadWrite { readWrite -= 1 }
            if value.isReadWrite { readWrite += 1 }
            protection[page] = value
            events.append((Int32(page), Int32(state), value, old))
        }

        for index in self.baseState..<mutations.count {
            let mutation = mutations[index]
            let state = index + 1  // the first state in which this mutation is visible
            defer { counts.append(readWrite) }
            guard mutation.succeeded else { continue }
            let inside: (Range<UInt64>) -> Bool = { $0.lowerBound >= arenaRange.lowerBound && $0.upperBound <= arenaRange.upperBound }
            switch mutation.kind {
            case .mprotect:
                guard let range = pages(mutation.address, mutation.length) else { continue }
                if !inside(mutation.address..<(mutation.address &+ mutation.length)) { unmodeled.append(mutation.sequence) }
                touched[index] = range
                for page in range where protection[page].isMapped {
                    let shared = protection[page].rawValue & 8 != 0
                    set(page, PageProtection(prot: mutation.prot, shared: shared), state: state)
                }
            case .mmap:
                let address = UInt64(bitPattern: mutation.result)
                guard let range = pages(address, mutation.length) else { continue }
                if !inside(address..<(address &+ mutation.length)) { unmodeled.append(mutation.sequence) }
                touched[index] = range
                let shared = mutation.flags & 0x01 != 0  // MAP_SHARED
                for page in range { set(page, PageProtection(prot: mutation.prot, shared: shared), state: state) }
            case .munmap:
                guard let range = pages(mutation.address, mutation.length) else { continue }
                if !inside(mutation.address..<(mutation.address &+ mutation.length)) { unmodeled.append(mutation.sequence) }
                touched[index] = range
                for page in range { set(page, .unmapped, state: state) }
            case .mremap:
                // Source pages move to the result address (growing pages take
                // the protection of the last source page); the source is
                // unmapped unless MREMAP_DONTUNMAP (4) kept it.
                let destination = UInt64(bitPattern: mutation.result)
                guard let source = pages(mutation.address, mutation.length),
                      let target = pages(destination, mutation.newLength),
                      inside(mutation.address..<(mutation.address &+ mutation.length)),
                      inside(destination..<(destination &+ mutation.newLength))
                else {
                    unmodeled.append(mutation.sequence)
                    continue
                }
                touched[index] = min(source.lowerBound, target.lowerBound)..<max(source.upperBound, target.upperBound)
                let moved = source.map { protection[$0] }
                if mutation.flags & 4 == 0 {
                    for page in source { set(page, .unmapped, state: state) }
                }
                for (offset, page) in target.enumerated() {
                    let value = offset < moved.count ? moved[offset] : (moved.last ?? .unmapped)
                    set(page, value, state: state)
                }
            }
        }
        readWriteCount = counts
        touchedPages = touched
        unmodeledMutations = unmodeled

        // Flatten the events into per-page lists (counting sort by page keeps
        // each page's events in state order).
        var start = [Int32](repeating: 0, count: pageCount + 1)
        for event in events { start[Int(event.page) + 1] += 1 }
        for page in 0..<pageCount { start[page + 1] += start[page] }
        var fill = start
        var states = [Int32](repeating: 0, count: events.count)
        var news = [PageProtection](repeating: .unmapped, count: events.count)
        var olds = [PageProtection](repeating: .unmapped, count: events.count)
        for event in events {
            let slot = Int(fill[Int(event.page)])
            fill[Int(event.page)] += 1
            states[slot] = event.state
            news[slot] = event.new
            olds[slot] = event.old
        }
        historyStart = start
        historyState = states
        historyProtection = news
        historyPrevious = olds
    }

    // MARK: - Single look-ups

    /// The page index of an arena address.
    @inline(__always)
    public func page(containing address: UInt64) -> Int {
        Int((address - arena.lowerBound) / pageSize)
    }

    /// What `page` was at `state`.
    public func protection(page: Int, at state: Int) -> PageProtection {
        var value = initialProtection[page]
        var entry = Int(historyStart[page])
        let end = Int(historyStart[page + 1])
        while entry < end && Int(historyState[entry]) <= state {
            value = historyProtection[entry]
            entry += 1
        }
        return value
    }

    /// Read-write pages in the arena at `state`.
    public func readWritePages(at state: Int) -> Int {
        Int(readWriteCount[min(max(state, baseState), finalState) - baseState])
    }

    /// Smallest and largest read-write page count over `states`.
    public func readWritePageRange(over states: ClosedRange<Int>) -> ClosedRange<Int> {
        let low = min(max(states.lowerBound, baseState), finalState) - baseState
        let high = min(max(states.upperBound, baseState), finalState) - baseState
        var least = Int32.max
        var most = Int32.min
        for index in low...high {
            least = min(least, readWriteCount[index])
            most = max(most, readWriteCount[index])
        }
        return Int(least)...Int(most)
    }

    /// The arena pages a mutation changed or tried to change (empty if none).
    public func pagesTouched(byMutation index: Int) -> Range<Int> {
        index >= 0 && index < touchedPages.count ? touchedPages[index] : 0..<0
    }

    // MARK: - Rendering states

    /// The arena's lines at `state`: maximal runs of pages with the same protection.
    public func arenaLines(at state: Int) -> [MapsLine] {
        var lines: [MapsLine] = []
        var runStart = 0
        var runValue = pageCount > 0 ? protection(page: 0, at: state) : .unmapped
        for page in 0...pageCount {
            let value = page < pageCount ? protection(page: page, at: state) : .unmapped
            if page == pageCount || value != runValue {
                if let permissions = runValue.permissions, page > runStart {
                    lines.append(MapsLine(
                        start: arena.lowerBound + UInt64(runStart) * pageSize,
                        end: arena.lowerBound + UInt64(page) * pageSize,
                        permissions: permissions))
                }
                runStart = page
                runValue = value
            }
        }
        return lines
    }

    /// The whole maps at `state`: `outside` lines (everything the workload
    /// does not mutate, from a quiescent read) with the arena's lines in place.
    public func maps(at state: Int, outside: [MapsLine]) -> [MapsLine] {
        var lines = outside.filter { $0.end <= arena.lowerBound || $0.start >= arena.upperBound }
        lines.append(contentsOf: arenaLines(at: state))
        lines.sort { $0.start < $1.start }
        return lines
    }

    /// Compares the model's arena lines at `state` with the arena lines of a
    /// quiescent read; returns the lines that differ on either side.
    public func mismatches(at state: Int, quiescent: MapsText) -> (missingFromModel: [MapsLine], extraInModel: [MapsLine]) {
        let observed = quiescent.lines.filter { $0.end > arena.lowerBound && $0.start < arena.upperBound }
        let modeled = arenaLines(at: state)
        let observedSet = Set(observed)
        let modeledSet = Set(modeled)
        return (observed.filter { !modeledSet.contains($0) }, modeled.filter { !observedSet.contains($0) })
    }

    // MARK: - Which states explain a line

    /// How strictly a line must match a state.
    public enum Match: Sendable {
        /// The state has a mapping with exactly this range and permissions.
        case exact
        /// Every page of the range has these permissions at the state.
        case pageLevel
    }

    /// The states within `window` at which `line` is true.
    ///
    /// Sweeps the window once: the line's pages (and, for an exact match, the
    /// page on either side, which must differ so that the mapping ends there)
    /// are checked at the window's first state, then only their changes inside
    /// the window are replayed, in state order.
    public func explainingStates(for line: MapsLine, within window: ClosedRange<Int>, match: Match) -> StateSet {
        guard line.start >= arena.lowerBound, line.end <= arena.upperBound,
              line.start % pageSize == 0, line.end % pageSize == 0, line.start < line.end,
              line.offset == 0, line.inode == 0, line.deviceMajor == 0, line.deviceMinor == 0, line.path.isEmpty
        else { return StateSet() }
        let low = min(max(window.lowerBound, baseState), finalState)
        let high = min(max(window.upperBound, baseState), finalState)
        guard low <= high else { return StateSet() }
        let wanted = PageProtection(line.permissions)
        let first = page(containing: line.start)
        let last = page(containing: line.end)  // exclusive

        var bad = 0
        var changes: [(state: Int32, delta: Int32)] = []
        // A page inside the line is bad when it is not `wanted`; a page
        // beside it is bad when it is (the mapping would continue there).
        func scan(_ page: Int, inside: Bool) {
            var value = initialProtection[page]
            var entry = Int(historyStart[page])
            let end = Int(historyStart[page + 1])
            while entry < end && Int(historyState[entry]) <= low {
                value = historyProtection[entry]
                entry += 1
            }
            if (value == wanted) != inside { bad += 1 }
            while entry < end && Int(historyState[entry]) <= high {
                let wasBad = (historyPrevious[entry] == wanted) != inside
                let isBad = (historyProtection[entry] == wanted) != inside
                if wasBad != isBad { changes.append((historyState[entry], isBad ? 1 : -1)) }
                entry += 1
            }
        }
        for page in first..<last { scan(page, inside: true) }
        if match == .exact {
            if first > 0 { scan(first - 1, inside: false) }
            if last < pageCount { scan(last, inside: false) }
        }
        if changes.isEmpty {
            return bad == 0 ? StateSet(low...high) : StateSet()
        }
        changes.sort { $0.state < $1.state }
        var result = StateSet()
        var runStart: Int? = bad == 0 ? low : nil
        var index = 0
        while index < changes.count {
            let state = Int(changes[index].state)
            while index < changes.count && Int(changes[index].state) == state {
                bad += Int(changes[index].delta)
                index += 1
            }
            if bad == 0, runStart == nil {
                runStart = state
            } else if bad != 0, let start = runStart {
                result.append(start...(state - 1))
                runStart = nil
            }
        }
        if let start = runStart { result.append(start...high) }
        return result
    }

    /// Whether every page of `range` (clipped to the arena) stayed mapped at
    /// every state in `window`.
    public func alwaysMapped(_ range: Range<UInt64>, over window: ClosedRange<Int>) -> Bool {
        let low = max(range.lowerBound, arena.lowerBound)
        let high = min(range.upperBound, arena.upperBound)
        guard low < high else { return false }
        let lowState = min(max(window.lowerBound, baseState), finalState)
        let highState = min(max(window.upperBound, baseState), finalState)
        let first = page(containing: low)
        let last = Int((high - arena.lowerBound + pageSize - 1) / pageSize)
        for page in first..<last {
            guard protection(page: page, at: lowState).isMapped else { return false }
            var entry = Int(historyStart[page])
            let end = Int(historyStart[page + 1])
            while entry < end {
                let state = Int(historyState[entry])
                if state > lowState && state <= highState && !historyProtection[entry].isMapped { return false }
                entry += 1
            }
        }
        return true
    }
}
