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
    case lineStraddlesArena(MapsLine)

    public var description: String {
        switch self {
        case .arenaNotPageAligned(let start, let end, let pageSize):
            "the arena \(addressString(start))-\(addressString(end)) is not aligned to the page size \(pageSize)"
        case .lineStraddlesArena(let line):
            "the initial quiescent maps has a line across the arena's edge: \(line)"
        }
    }
}

/// One arena page at some state: its protection, and how far it sits from
/// where its mapping was created (in pages: virtual page number minus the
/// mapping's page offset). Two neighbouring pages belong to one mapping only
/// when both match: the kernel merges anonymous mappings only when their
/// page offsets continue, and a page moved by mremap keeps its old offset.
public struct PageState: Hashable, Sendable {
    public var protection: PageProtection
    public var displacement: Int32

    public init(protection: PageProtection, displacement: Int32 = 0) {
        self.protection = protection
        self.displacement = displacement
    }

    public static let unmapped = PageState(protection: .unmapped)

    public var isMapped: Bool { protection.isMapped }

    /// Whether a page in this state continues the mapping of a page in `left`
    /// just before it.
    @inline(__always)
    func continues(_ left: PageState) -> Bool {
        isMapped && left.isMapped && self == left
    }
}

/// What page offset pages moved by mremap get, which decides whether they can
/// merge with their new neighbours.
public enum MovedPageOffset: Sendable, Equatable {
    /// Anonymous memory that was never faulted in (no anon_vma): the kernel
    /// gives the moved mapping the page offset of its new address
    /// (`copy_vma`), so it merges with identical neighbours there like a
    /// fresh mmap. The recorder never touches its arena, so this is what its
    /// recordings show (checked on 6.18: a page moved with
    /// MREMAP_DONTUNMAP into a read-only mapping and then made read-only
    /// becomes one line with it again).
    case rebased
    /// Faulted-in memory: the moved pages keep their old page offset and
    /// never merge with neighbours that did not move with them.
    case kept
}

/// The exact address space of the workload's arena after every mutation:
/// state j is what was mapped after the first j mutations took effect.
///
/// Built from the initial quiescent maps (which shows state `baseState`) and
/// the ordered mutations. Nothing is copied per state: each arena page keeps
/// the short list of changes it went through, so "what was true at state j
/// for this range" costs one look-up per page.
///
/// The model's rule for lines: inside the arena, neighbouring pages with the
/// same protection and the same displacement form one mapping (untouched
/// private anonymous memory merges with identical neighbours after mprotect,
/// mmap and mremap). Where an mremap move puts the moved pages' offsets is
/// `MovedPageOffset`. `TraceAnalysis` checks the rule against quiescent reads
/// of the real maps.
public final class GroundTruth: Sendable {
    public let arena: Range<UInt64>
    public let pageSize: UInt64
    public let pageCount: Int
    /// The state the initial quiescent maps shows.
    public let baseState: Int
    /// The last state: every mutation applied.
    public let finalState: Int
    /// Mutations the model could not place (outside the arena, or only partly
    /// inside); the lines they touch cannot be judged exactly.
    public let unmodeledMutations: [UInt64]

    /// log2(pageSize) when the page size is a power of two (always, on
    /// Linux): page arithmetic by shifts rather than divisions.
    private let pageShift: UInt64?

    // Immutable once built, so any number of threads may read it at once.
    private let initialPages: [PageState]
    // Per-page change history, flattened: the changes of page p are
    // entries historyStart[p] ..< historyStart[p + 1], in state order (at
    // most one per page and state).
    private let historyStart: [Int32]
    private let historyState: [Int32]
    private let historyValue: [PageState]
    /// Read-write arena pages at each state from `baseState` to `finalState`.
    private let readWriteCount: [Int32]
    /// Each mutation's arena page range (empty when it touched no arena page).
    private let touchedPages: [Range<Int>]

    public init(
        initialMaps: MapsText, arena: Range<UInt64>, pageSize: UInt64,
        mutations: [MutationRecord], baseState: Int, movedPageOffset: MovedPageOffset = .rebased
    ) throws(ReplayError) {
        guard pageSize > 0, arena.lowerBound % pageSize == 0, arena.upperBound % pageSize == 0 else {
            throw .arenaNotPageAligned(start: arena.lowerBound, end: arena.upperBound, pageSize: pageSize)
        }
        self.arena = arena
        self.pageSize = pageSize
        pageShift = pageSize & (pageSize - 1) == 0 ? UInt64(pageSize.trailingZeroBitCount) : nil
        pageCount = Int((arena.upperBound - arena.lowerBound) / pageSize)
        self.baseState = min(max(baseState, 0), mutations.count)
        finalState = mutations.count

        var pages = [PageState](repeating: .unmapped, count: pageCount)
        // Neighbouring lines with the same permissions are separate
        // mappings; give the later one a displacement of its own so that the
        // model keeps them apart (their real page offsets are not printed).
        var distinct: Int32 = 1 << 24
        var previous: (end: UInt64, state: PageState)?
        for line in initialMaps.lines where line.end > arena.lowerBound && line.start < arena.upperBound {
            guard line.start >= arena.lowerBound, line.end <= arena.upperBound,
                  line.start % pageSize == 0, line.end % pageSize == 0
            else { throw .lineStraddlesArena(line) }
            var state = PageState(protection: PageProtection(line.permissions))
            if let previous, previous.end == line.start, previous.state == state {
                state.displacement = distinct
                distinct += 1
            }
            let first = Int((line.start - arena.lowerBound) / pageSize)
            let last = Int((line.end - arena.lowerBound) / pageSize)
            for page in first..<last { pages[page] = state }
            previous = (line.end, state)
        }
        initialPages = pages

        // Apply every mutation from the base state on, page by page, into
        // per-page change lists (first as (page, state, value) events).
        var events: [(page: Int32, state: Int32, value: PageState)] = []
        events.reserveCapacity(mutations.count * 2)
        var touched = [Range<Int>](repeating: 0..<0, count: mutations.count)
        var readWrite = Int32(pages.reduce(0) { $0 + ($1.protection.isReadWrite ? 1 : 0) })
        var counts: [Int32] = [readWrite]
        counts.reserveCapacity(mutations.count - self.baseState + 1)
        var unmodeled: [UInt64] = []

        /// The arena pages of [address, address + length), or nil when the
        /// range is empty, wraps, or is not wholly inside the arena.
        func pageRange(_ address: UInt64, _ length: UInt64) -> Range<Int>? {
            let end = address &+ length
            guard length > 0, end > address, address >= arena.lowerBound, end <= arena.upperBound else {
                return nil
            }
            let first = Int((address - arena.lowerBound) / pageSize)
            let last = Int((end - arena.lowerBound + pageSize - 1) / pageSize)
            return first..<last
        }
        func touchesArena(_ address: UInt64, _ length: UInt64) -> Bool {
            address < arena.upperBound && address &+ length > arena.lowerBound
        }
        func set(_ page: Int, _ value: PageState, state: Int) {
            let old = pages[page]
            guard old != value else { return }
            if old.protection.isReadWrite { readWrite -= 1 }
            if value.protection.isReadWrite { readWrite += 1 }
            pages[page] = value
            events.append((Int32(page), Int32(state), value))
        }

        for index in self.baseState..<mutations.count {
            let mutation = mutations[index]
            let state = index + 1  // the first state in which this mutation is visible
            defer { counts.append(readWrite) }
            guard mutation.succeeded else { continue }
            switch mutation.kind {
            case .mprotect:
                guard let range = pageRange(mutation.address, mutation.length) else {
                    if touchesArena(mutation.address, mutation.length) { unmodeled.append(mutation.sequence) }
                    continue
                }
                touched[index] = range
                for page in range where pages[page].isMapped {
                    let shared = pages[page].protection.rawValue & 8 != 0
                    var value = pages[page]
                    value.protection = PageProtection(prot: mutation.prot, shared: shared)
                    set(page, value, state: state)
                }
            case .mmap:
                let address = UInt64(bitPattern: mutation.result)
                guard let range = pageRange(address, mutation.length) else {
                    if touchesArena(address, mutation.length) { unmodeled.append(mutation.sequence) }
                    continue
                }
                touched[index] = range
                let shared = mutation.flags & 0x01 != 0  // MAP_SHARED
                for page in range {
                    set(page, PageState(protection: PageProtection(prot: mutation.prot, shared: shared)), state: state)
                }
            case .munmap:
                guard let range = pageRange(mutation.address, mutation.length) else {
                    if touchesArena(mutation.address, mutation.length) { unmodeled.append(mutation.sequence) }
                    continue
                }
                touched[index] = range
                for page in range { set(page, .unmapped, state: state) }
            case .mremap:
                // The source's pages go to the result address; pages beyond
                // the old size continue the last one's. In place, the mapping
                // keeps its offsets; moved, it keeps them only if it was
                // faulted in (`movedPageOffset`), else it starts afresh at
                // its new address. The source is unmapped unless
                // MREMAP_DONTUNMAP (4) kept it (emptied, same protection and
                // offsets).
                let destination = UInt64(bitPattern: mutation.result)
                guard let source = pageRange(mutation.address, mutation.length),
                      let target = pageRange(destination, mutation.newLength)
                else {
                    if touchesArena(mutation.address, mutation.length)
                        || touchesArena(destination, mutation.newLength) {
                        unmodeled.append(mutation.sequence)
                    }
                    continue
                }
                touched[index] = min(source.lowerBound, target.lowerBound)..<max(source.upperBound, target.upperBound)
                let moved = source.map { pages[$0] }
                let shift = Int32(target.lowerBound - source.lowerBound)
                let rebase = shift != 0 && movedPageOffset == .rebased
                let keepSource = mutation.flags & 4 != 0
                if !keepSource {
                    for page in source where !target.contains(page) { set(page, .unmapped, state: state) }
                }
                for (offset, page) in target.enumerated() {
                    guard let last = moved.last else { break }
                    var value = offset < moved.count ? moved[offset] : last
                    if value.isMapped { value.displacement = rebase ? 0 : value.displacement + shift }
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
        var values = [PageState](repeating: .unmapped, count: events.count)
        for event in events {
            let slot = Int(fill[Int(event.page)])
            fill[Int(event.page)] += 1
            states[slot] = event.state
            values[slot] = event.value
        }
        historyStart = start
        historyState = states
        historyValue = values
    }

    // MARK: - Single look-ups

    /// The page index of an arena address.
    @inline(__always)
    public func page(containing address: UInt64) -> Int {
        if let pageShift { return Int((address - arena.lowerBound) >> pageShift) }
        return Int((address - arena.lowerBound) / pageSize)
    }

    /// Whether `address` is on a page boundary.
    @inline(__always)
    public func isPageAligned(_ address: UInt64) -> Bool {
        pageShift != nil ? address & (pageSize - 1) == 0 : address % pageSize == 0
    }

    /// What `page` was at `state`.
    public func pageState(_ page: Int, at state: Int) -> PageState {
        var value = initialPages[page]
        var entry = Int(historyStart[page])
        let end = Int(historyStart[page + 1])
        while entry < end && Int(historyState[entry]) <= state {
            value = historyValue[entry]
            entry += 1
        }
        return value
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

    /// The arena's lines at `state`: maximal runs of pages that continue one
    /// mapping.
    public func arenaLines(at state: Int) -> [MapsLine] {
        var lines: [MapsLine] = []
        forEachArenaLine(at: state) { lines.append($0) }
        return lines
    }

    /// Calls `body` with each of the arena's lines at `state`, in address order.
    public func forEachArenaLine(at state: Int, _ body: (MapsLine) -> Void) {
        let state = Int32(clamping: state)
        var runStart = 0
        var runValue = PageState.unmapped
        for page in 0...pageCount {
            var value = PageState.unmapped
            if page < pageCount {
                let entry = firstEntry(of: page, after: state)
                value = entry > Int(historyStart[page]) ? historyValue[entry - 1] : initialPages[page]
            }
            if page == 0 {
                runValue = value
                continue
            }
            if page == pageCount || !value.continues(runValue) {
                if let permissions = runValue.protection.permissions, page > runStart {
                    body(MapsLine(
                        start: arena.lowerBound + UInt64(runStart) * pageSize,
                        end: arena.lowerBound + UInt64(page) * pageSize,
                        permissions: permissions))
                }
                runStart = page
                runValue = value
            }
        }
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
        let observed = quiescent.lines.lazy.filter { [arena] in $0.end > arena.lowerBound && $0.start < arena.upperBound }
        // The model's lines go up strictly by start address, and so do the
        // kernel's: then a line is on the other side exactly when the other
        // side's line with the same start equals it, and one merge answers
        // without building either side.
        var ascending = true
        var previous: UInt64?
        for line in observed {
            if let previous, line.start <= previous { ascending = false; break }
            previous = line.start
        }
        guard ascending else {
            let observed = Array(observed)
            let modeled = arenaLines(at: state)
            let observedSet = Set(observed)
            let modeledSet = Set(modeled)
            return (observed.filter { !modeledSet.contains($0) }, modeled.filter { !observedSet.contains($0) })
        }
        var missing: [MapsLine] = []
        var extra: [MapsLine] = []
        var iterator = observed.makeIterator()
        var next = iterator.next()
        forEachArenaLine(at: state) { modeled in
            while let line = next, line.start < modeled.start {
                missing.append(line)
                next = iterator.next()
            }
            if let line = next, line.start == modeled.start {
                if line != modeled {
                    missing.append(line)
                    extra.append(modeled)
                }
                next = iterator.next()
            } else {
                extra.append(modeled)
            }
        }
        while let line = next {
            missing.append(line)
            next = iterator.next()
        }
        return (missing, extra)
    }

    // MARK: - Which states explain a line

    /// How strictly a line must match a state.
    public enum Match: Sendable {
        /// The state has a mapping with exactly this range and permissions.
        case exact
        /// Every page of the range has these permissions at the state.
        case pageLevel
    }

    /// One change of one page, as the explanation sweep replays it.
    struct PageEvent {
        var state: Int32
        var page: Int32
        var value: PageState
    }

    /// The arena pages of `line` when replay can judge it: an anonymous
    /// line (offset, device, inode 0, no path), page-aligned, inside the
    /// arena. nil otherwise (no state explains such a line).
    @inline(__always)
    public func arenaPages(of line: MapsLine) -> Range<Int>? {
        guard line.start >= arena.lowerBound, line.end <= arena.upperBound,
              line.start % pageSize == 0, line.end % pageSize == 0, line.start < line.end,
              line.offset == 0, line.inode == 0, line.deviceMajor == 0, line.deviceMinor == 0, line.path.isEmpty
        else { return nil }
        return page(containing: line.start)..<page(containing: line.end)
    }

    /// The states within `window` at which `line` is true.
    public func explainingStates(for line: MapsLine, within window: ClosedRange<Int>, match: Match) -> StateSet {
        guard let pages = arenaPages(of: line) else { return StateSet() }
        var intervals: [StateInterval] = []
        appendExplainingStates(
            pages: pages, protection: PageProtection(line.permissions), within: window, match: match,
            into: &intervals)
        return intervals.withUnsafeBufferPointer { StateIntervals.set($0) }
    }

    /// The first history entry of `page` later than `state`.
    @inline(__always)
    private func firstEntry(of page: Int, after state: Int32) -> Int {
        var low = Int(historyStart[page])
        var high = Int(historyStart[page + 1])
        if high - low <= 8 {
            while low < high && historyState[low] <= state { low += 1 }
            return low
        }
        while low < high {
            let middle = (low + high) / 2
            if historyState[middle] <= state { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Appends to `output` the states within `window` at which the line
    /// covering arena `pages` with `protection` is true, as sorted,
    /// disjoint, non-adjacent intervals (nothing when none).
    ///
    /// The line's pages and the page on either side are read at the window's
    /// first state (binary search in each page's history); then only their
    /// changes inside the window are replayed, in state order, keeping count
    /// of how many conditions fail:
    /// - every page of the line has the line's permissions;
    /// - (exact) each page continues the previous page's mapping;
    /// - (exact) the pages beside the line do not continue it.
    public func appendExplainingStates(
        pages: Range<Int>, protection wanted: PageProtection, within window: ClosedRange<Int>, match: Match,
        into output: inout [StateInterval]
    ) {
        let low = Int32(min(max(window.lowerBound, baseState), finalState))
        let high = Int32(min(max(window.upperBound, baseState), finalState))
        guard low <= high, !pages.isEmpty, pages.lowerBound >= 0, pages.upperBound <= pageCount else { return }
        let first = pages.lowerBound
        let last = pages.upperBound  // exclusive
        let exact = match == .exact
        // The pages looked at: the line's, and for an exact match one on each side.
        let lowPage = exact ? max(first - 1, 0) : first
        let highPage = exact ? min(last + 1, pageCount) : last  // exclusive

        // The pages' values at `low` and their changes inside the window,
        // in memory of this call's own (on the stack for the usual few pages
        // and changes): nothing shared, nothing reference-counted.
        let pagesLooked = highPage - lowPage
        // The pages' histories lie side by side: their length bounds the events.
        let eventBound = Int(historyStart[highPage]) - Int(historyStart[lowPage])
        withUnsafeTemporaryAllocation(of: PageState.self, capacity: pagesLooked) { values in
            withUnsafeTemporaryAllocation(of: PageEvent.self, capacity: max(eventBound, 1)) { eventStorage in
                var filled = 0
                for page in lowPage..<highPage {
                    var entry = firstEntry(of: page, after: low)
                    values.initializeElement(
                        at: page - lowPage,
                        to: entry > Int(historyStart[page]) ? historyValue[entry - 1] : initialPages[page])
                    let end = Int(historyStart[page + 1])
                    while entry < end && historyState[entry] <= high {
                        eventStorage.initializeElement(
                            at: filled, to: PageEvent(state: historyState[entry], page: Int32(page), value: historyValue[entry]))
                        filled += 1
                        entry += 1
                    }
                }
                var events = UnsafeMutableBufferPointer(rebasing: eventStorage[0..<filled])
                if filled > 1 {
                    // One page's events are already in state order; a few
                    // pages' are merged by insertion, many by sorting. (Events
                    // of one state may come in any order: the count is the
                    // same once all are applied.)
                    if filled <= 32 {
                        for index in 1..<filled {
                            let event = events[index]
                            var slot = index
                            while slot > 0 && events[slot - 1].state > event.state {
                                events[slot] = events[slot - 1]
                                slot -= 1
                            }
                            events[slot] = event
                        }
                    } else {
                        events.sort { $0.state < $1.state }
                    }
                }
                let conditions = LineConditions(
                    first: first, last: last, lowPage: lowPage, highPage: highPage, pageCount: pageCount, exact: exact,
                    wanted: wanted)
                conditions.sweep(values, UnsafeBufferPointer(events), low: low, high: high, into: &output)
                // PageState and PageEvent are trivial: nothing to deinitialize.
            }
        }
    }

    /// What a line asks of the pages around it, for the explanation sweep.
    private struct LineConditions {
        let first: Int
        let last: Int  // exclusive
        let lowPage: Int
        let highPage: Int  // exclusive
        let pageCount: Int
        let exact: Bool
        let wanted: PageProtection

        /// Whether the condition attached to `page` fails: its permissions
        /// (pages of the line), and whether a mapping boundary lies where one
        /// must (at `first` and `last`) or must not (inside the line).
        @inline(__always)
        func failures(at page: Int, _ values: UnsafeMutableBufferPointer<PageState>) -> Int {
            var count = 0
            let value = values[page - lowPage]
            if page >= first && page < last && value.protection != wanted { count += 1 }
            guard exact else { return count }
            // The boundary between page - 1 and page.
            if page > first && page < last {
                if !value.continues(values[page - 1 - lowPage]) { count += 1 }
            } else if page == first && first > 0 {
                if value.continues(values[page - 1 - lowPage]) { count += 1 }
            } else if page == last && last < pageCount {
                if value.continues(values[page - 1 - lowPage]) { count += 1 }
            }
            return count
        }

        /// Replays `events` (in state order) over `values` (the pages at
        /// `low`) and appends the runs of states where no condition fails.
        func sweep(
            _ values: UnsafeMutableBufferPointer<PageState>, _ events: UnsafeBufferPointer<PageEvent>,
            low: Int32, high: Int32, into output: inout [StateInterval]
        ) {
            var bad = 0
            for page in lowPage..<highPage { bad += failures(at: page, values) }
            if events.isEmpty {
                if bad == 0 { output.append(StateInterval(low: low, high: high)) }
                return
            }
            var runStart: Int32 = bad == 0 ? low : -1
            var index = 0
            while index < events.count {
                let state = events[index].state
                while index < events.count && events[index].state == state {
                    let page = Int(events[index].page)
                    // A page's value affects its own condition and the boundary
                    // condition of the page after it.
                    let next = page + 1 < highPage
                    bad -= failures(at: page, values)
                    if next { bad -= failures(at: page + 1, values) }
                    values[page - lowPage] = events[index].value
                    bad += failures(at: page, values)
                    if next { bad += failures(at: page + 1, values) }
                    index += 1
                }
                if bad == 0, runStart < 0 {
                    runStart = state
                } else if bad != 0, runStart >= 0 {
                    output.append(StateInterval(low: runStart, high: state - 1))
                    runStart = -1
                }
            }
            if runStart >= 0 { output.append(StateInterval(low: runStart, high: high)) }
        }
    }

    /// The states within `window` at which every page of `range` (clipped to
    /// the arena) was unmapped: when a gap between two lines is true.
    public func unmappedStates(_ range: Range<UInt64>, within window: ClosedRange<Int>) -> StateSet {
        let low = max(range.lowerBound, arena.lowerBound)
        let high = min(range.upperBound, arena.upperBound)
        let lowState = min(max(window.lowerBound, baseState), finalState)
        let highState = min(max(window.upperBound, baseState), finalState)
        guard low < high, lowState <= highState else { return StateSet() }
        let first = page(containing: low)
        let last = Int((high - arena.lowerBound + pageSize - 1) / pageSize)
        var mapped = 0
        var changes: [(state: Int32, delta: Int32)] = []
        for page in first..<last {
            var value = initialPages[page]
            var entry = Int(historyStart[page])
            let end = Int(historyStart[page + 1])
            while entry < end && Int(historyState[entry]) <= lowState {
                value = historyValue[entry]
                entry += 1
            }
            if value.isMapped { mapped += 1 }
            var wasMapped = value.isMapped
            while entry < end && Int(historyState[entry]) <= highState {
                let isMapped = historyValue[entry].isMapped
                if isMapped != wasMapped { changes.append((historyState[entry], isMapped ? 1 : -1)) }
                wasMapped = isMapped
                entry += 1
            }
        }
        changes.sort { $0.state < $1.state }
        var result = StateSet()
        var runStart: Int? = mapped == 0 ? lowState : nil
        var index = 0
        while index < changes.count {
            let state = Int(changes[index].state)
            while index < changes.count && Int(changes[index].state) == state {
                mapped += Int(changes[index].delta)
                index += 1
            }
            if mapped == 0, runStart == nil {
                runStart = state
            } else if mapped != 0, let start = runStart {
                result.append(start...(state - 1))
                runStart = nil
            }
        }
        if let start = runStart { result.append(start...highState) }
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
            guard pageState(page, at: lowState).isMapped else { return false }
            var entry = Int(historyStart[page])
            let end = Int(historyStart[page + 1])
            while entry < end {
                let state = Int(historyState[entry])
                if state > lowState && state <= highState && !historyValue[entry].isMapped { return false }
                entry += 1
            }
        }
        return true
    }
}
