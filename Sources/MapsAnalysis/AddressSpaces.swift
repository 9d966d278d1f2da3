import Dispatch
import MapsModel
import MapsTrace

// The whole-address-space ground truth of a traced recording (`record --
// CMD`): every traced address space (a pid in one address-space
// generation) is modeled line by line from its initial quiescent read, with
// its logged mutations applied (AddressSpaceModel), checked against its
// final quiescent read, and each snapshot is judged against the address
// space it read. The arena analysis (GroundTruth, SnapshotAnalyzer) is
// unchanged; this adds to it.

/// One address space of a traced recording: a pid in one generation.
public struct AddressSpaceKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var generation: UInt32

    public init(pid: Int32, generation: UInt32) {
        self.pid = pid
        self.generation = generation
    }

    public static func < (a: AddressSpaceKey, b: AddressSpaceKey) -> Bool {
        (a.pid, a.generation) < (b.pid, b.generation)
    }

    public var description: String { "pid \(pid) generation \(generation)" }
}

/// One logged syscall of an address space that can change its lines.
struct SpaceMutation: Sendable {
    var sequence: UInt64
    var name: String
    var tBegin: UInt64
    var tEnd: UInt64
    /// What the model applies (nil: nothing changes its lines, or it is unmodeled).
    var change: LineMutation?
    /// Why the model cannot apply it, when it changed lines in a way the log does not tell.
    var unmodeled: String?
    /// A shmat or a name prctl: its record (0x48, 0x49) follows, with what
    /// the change needs besides `result` and `arguments`.
    var awaitsDetail = false
    var result: UInt64 = 0
    var arguments: (UInt64, UInt64) = (0, 0)
}

/// What `TraceContext.load` collects for the whole-address-space model.
public struct TracedSpaces: Sendable {
    var mutations: [AddressSpaceKey: [SpaceMutation]] = [:]
    var initial: [AddressSpaceKey: AddressSpaceMaps] = [:]
    var final: [AddressSpaceKey: AddressSpaceMaps] = [:]
    /// The last file-backed mmap, waiting for its file identity record.
    private var awaitingFile: (key: AddressSpaceKey, index: Int, sequence: UInt64)?
    /// The last successful shmat or prctl(PR_SET_VMA_ANON_NAME), waiting
    /// for its record (0x48, 0x49).
    private var awaitingDetail: (key: AddressSpaceKey, index: Int, sequence: UInt64)?

    var isEmpty: Bool { initial.isEmpty }

    mutating func add(_ maps: AddressSpaceMaps) {
        let key = AddressSpaceKey(pid: maps.pid, generation: maps.generation)
        switch maps.role {
        case .initial: if initial[key] == nil { initial[key] = maps }
        case .final: final[key] = maps
        }
    }

    mutating func add(_ call: TracedSyscall) {
        awaitingFile = nil
        awaitingDetail = nil
        guard var mutation = Self.mutation(call) else { return }
        let key = AddressSpaceKey(pid: call.pid, generation: call.generation)
        if mutation.awaitsDetail {
            awaitingDetail = (key, mutations[key, default: []].count, call.sequence)
        }
        if case .map(_, _, _, let flags, _, nil) = mutation.change, flags & 0x20 == 0 {
            // File-backed: its identity record follows.
            mutation.unmodeled = "file-backed mmap without a file identity record"
            awaitingFile = (key, mutations[key, default: []].count, call.sequence)
        }
        mutations[key, default: []].append(mutation)
    }

    mutating func add(_ identity: TracedFileIdentity) {
        guard let waiting = awaitingFile, waiting.sequence == identity.syscall else { return }
        awaitingFile = nil
        var mutation = mutations[waiting.key]![waiting.index]
        guard case .map(let start, let length, let prot, let flags, let offset, _) = mutation.change else { return }
        mutation.change = .map(
            start: start, length: length, prot: prot, flags: flags, offset: offset,
            file: FileIdentity(
                deviceMajor: identity.deviceMajor, deviceMinor: identity.deviceMinor, inode: identity.inode,
                path: identity.path))
        mutation.unmodeled = nil
        mutations[waiting.key]![waiting.index] = mutation
    }

    /// A shmat's segment: the attach becomes modeled.
    mutating func add(_ attach: SharedMemoryAttach) {
        guard let waiting = awaitingDetail, waiting.sequence == attach.syscall else { return }
        awaitingDetail = nil
        var mutation = mutations[waiting.key]![waiting.index]
        guard mutation.name == "shmat" else { return }
        mutation.change = .attach(
            start: mutation.result, size: attach.size, flags: Int32(truncatingIfNeeded: attach.flags),
            file: FileIdentity(
                deviceMajor: attach.deviceMajor, deviceMinor: attach.deviceMinor, inode: attach.inode,
                path: attach.path))
        mutation.unmodeled = nil
        mutations[waiting.key]![waiting.index] = mutation
    }

    /// A prctl(PR_SET_VMA_ANON_NAME)'s name: the naming becomes modeled.
    mutating func add(_ name: AnonymousName) {
        guard let waiting = awaitingDetail, waiting.sequence == name.syscall else { return }
        awaitingDetail = nil
        var mutation = mutations[waiting.key]![waiting.index]
        guard mutation.name == "prctl" else { return }
        mutation.change = .name(start: mutation.arguments.0, length: mutation.arguments.1, name: name.name)
        mutation.unmodeled = nil
        mutations[waiting.key]![waiting.index] = mutation
    }

    /// The line change a traced syscall stands for; nil for a syscall that
    /// is not a mutation (maps reads, opens, ...).
    static func mutation(_ call: TracedSyscall) -> SpaceMutation? {
        var mutation = SpaceMutation(sequence: call.sequence, name: call.name, tBegin: call.tBegin, tEnd: call.tEnd)
        let a = call.arguments.count == 6 ? call.arguments : call.arguments + [UInt64](repeating: 0, count: 6 - call.arguments.count)
        let ok = call.errno == 0
        let result = UInt64(bitPattern: call.result)
        func int(_ value: UInt64) -> Int32 { Int32(truncatingIfNeeded: value) }
        switch call.name {
        case "mmap":
            guard ok else { break }
            if int(a[3]) & 0x40000 != 0 {  // MAP_HUGETLB
                mutation.unmodeled = "MAP_HUGETLB mapping (its page size is not logged)"
            }
            mutation.change = .map(start: result, length: a[1], prot: int(a[2]), flags: int(a[3]), offset: a[5], file: nil)
        case "munmap":
            if ok { mutation.change = .unmap(start: a[0], length: a[1]) }
        case "mprotect", "pkey_mprotect":
            if ok {
                mutation.change = .protect(
                    start: a[0], length: a[1], prot: int(a[2]),
                    protectionKey: call.name == "pkey_mprotect" ? UInt32(truncatingIfNeeded: a[3]) : 0)
            } else if call.errno == 12 {  // ENOMEM: the VMAs before the hole were changed
                mutation.unmodeled = "\(call.name) failed with ENOMEM after changing part of its range"
            }
        case "mremap":
            if ok { mutation.change = .remap(old: a[0], oldLength: a[1], newLength: a[2], flags: int(a[3]), result: result) }
        case "brk":
            mutation.change = .brk(requested: a[0], result: result)
        case "madvise":
            if ok, AddressSpaceModel.madviseFlag(int(a[2])) != nil {
                mutation.change = .advise(start: a[0], length: a[1], advice: int(a[2]))
            }
        case "mlock", "mlock2":
            if ok { mutation.change = .lock(start: a[0], length: a[1], locked: true) }
        case "munlock":
            if ok { mutation.change = .lock(start: a[0], length: a[1], locked: false) }
        case "mlockall":
            if ok, a[0] & 1 != 0 { mutation.change = .lockAll(locked: true, future: a[0] & 2 != 0) }
        case "munlockall":
            if ok { mutation.change = .lockAll(locked: false, future: false) }
        case "prctl":
            // PR_SET_VMA, PR_SET_VMA_ANON_NAME: the name follows in record 0x49. It
            // names what precedes a hole (ENOMEM) or a file-backed line (EBADF) too.
            if a[0] == 0x5356_4d41, a[1] == 0, ok || call.errno == 12 || call.errno == 9 {
                mutation.unmodeled = "prctl(PR_SET_VMA_ANON_NAME) without its name record"
                mutation.awaitsDetail = true
                mutation.arguments = (a[2], a[3])
            }
        case "shmat":
            if ok {
                mutation.unmodeled = "shmat without its segment record"
                mutation.awaitsDetail = true
                mutation.result = result
            }
        case "shmdt":
            if ok { mutation.change = .detach(address: a[0]) }
        default:
            return nil
        }
        return mutation
    }
}

/// How one address space's model came out, in analysis JSON (`address_spaces`).
public struct AddressSpaceReport: Codable, Sendable, Equatable {
    public var pid: Int32
    public var generation: UInt32
    /// Its last execve's path (the process's command).
    public var command: String
    /// Mutations logged in it (states are numbered 0 to this).
    public var mutations: Int
    /// Of those, the ones the model cannot apply, and why (up to a few).
    public var unmodeledMutations: Int
    public var unmodeledMutationExamples: [String]
    public var initialLines: Int
    /// Lines of its final quiescent read (nil: none was taken).
    public var finalLines: Int?
    /// Final lines the model reproduces exactly, and the ones no logged
    /// syscall explains (stack, vDSO, vvar, vsyscall): they are left out of
    /// every comparison.
    public var modeledLines: Int
    public var unmodeledLines: [String]
    /// The replay reproduces the final quiescent read line for line.
    public var validated: Bool
    /// `exact` when validated, else `page_level` (lines compared after
    /// joining neighbours with the same protection and backing).
    public var match: String
    /// When not validated: whether the page-by-page comparison agrees with the final read.
    public var pageLevelAgrees: Bool?
    public var finalMismatches: Int
    public var examples: [String]
    public var detail: String
    /// Snapshots that read this address space, and how many of them one
    /// state explains.
    public var snapshots: [Int]
    public var judgedSnapshots: Int
    public var consistentSnapshots: Int

    enum CodingKeys: String, CodingKey {
        case pid, generation, command, mutations
        case unmodeledMutations = "unmodeled_mutations"
        case unmodeledMutationExamples = "unmodeled_mutation_examples"
        case initialLines = "initial_lines"
        case finalLines = "final_lines"
        case modeledLines = "modeled_lines"
        case unmodeledLines = "unmodeled_lines"
        case validated, match
        case pageLevelAgrees = "page_level_agrees"
        case finalMismatches = "final_mismatches"
        case examples, detail, snapshots
        case judgedSnapshots = "judged_snapshots"
        case consistentSnapshots = "consistent_snapshots"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pid, forKey: .pid)
        try c.encode(generation, forKey: .generation)
        try c.encode(command, forKey: .command)
        try c.encode(mutations, forKey: .mutations)
        try c.encode(unmodeledMutations, forKey: .unmodeledMutations)
        try c.encode(unmodeledMutationExamples, forKey: .unmodeledMutationExamples)
        try c.encode(initialLines, forKey: .initialLines)
        try c.encode(finalLines, forKey: .finalLines)
        try c.encode(modeledLines, forKey: .modeledLines)
        try c.encode(unmodeledLines, forKey: .unmodeledLines)
        try c.encode(validated, forKey: .validated)
        try c.encode(match, forKey: .match)
        try c.encode(pageLevelAgrees, forKey: .pageLevelAgrees)
        try c.encode(finalMismatches, forKey: .finalMismatches)
        try c.encode(examples, forKey: .examples)
        try c.encode(detail, forKey: .detail)
        try c.encode(snapshots, forKey: .snapshots)
        try c.encode(judgedSnapshots, forKey: .judgedSnapshots)
        try c.encode(consistentSnapshots, forKey: .consistentSnapshots)
    }
}

/// One snapshot judged against the whole address space it read
/// (`whole_space` in a snapshot's analysis JSON).
public struct WholeSpaceVerdict: Codable, Sendable, Equatable {
    public var pid: Int32
    public var generation: UInt32
    /// It is the address space the arena's model (the rest of the
    /// snapshot's analysis) is about. When false, the snapshot's
    /// `consistent` is this verdict's and its arena fields are empty.
    public var arenaSpace: Bool = true
    /// False when it could not be judged (`detail` says why).
    public var judged: Bool
    /// One state of that address space explains every line but the unmodeled ones.
    public var consistent: Bool?
    public var explainingState: Int?
    /// That address space's states possible while the snapshot was read.
    public var stateLo: Int
    public var stateHi: Int
    /// `exact` or `page_level`, as its address space's model.
    public var match: String
    /// Lines (left out of the comparison) no syscall explains.
    public var unmodeledLines: Int
    /// When not consistent: how many lines differ from the window's first
    /// and from its last state (0 when consistent).
    public var mismatchesAtLo: Int
    public var mismatchesAtHi: Int
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case pid, generation
        case arenaSpace = "arena_space"
        case judged, consistent
        case explainingState = "explaining_state"
        case stateLo = "state_lo"
        case stateHi = "state_hi"
        case match
        case unmodeledLines = "unmodeled_lines"
        case mismatchesAtLo = "mismatches_at_lo"
        case mismatchesAtHi = "mismatches_at_hi"
        case detail
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pid, forKey: .pid)
        try c.encode(generation, forKey: .generation)
        try c.encode(arenaSpace, forKey: .arenaSpace)
        try c.encode(judged, forKey: .judged)
        try c.encode(consistent, forKey: .consistent)
        try c.encode(explainingState, forKey: .explainingState)
        try c.encode(stateLo, forKey: .stateLo)
        try c.encode(stateHi, forKey: .stateHi)
        try c.encode(match, forKey: .match)
        try c.encode(unmodeledLines, forKey: .unmodeledLines)
        try c.encode(mismatchesAtLo, forKey: .mismatchesAtLo)
        try c.encode(mismatchesAtHi, forKey: .mismatchesAtHi)
        try c.encode(detail, forKey: .detail)
    }
}

/// Lines as compared: special lines left out, shared anonymous lines
/// without their (unknowable) inode, and for `pageLevel` neighbours with
/// the same protection and backing joined, so that only what each page is
/// counts, not where the lines split.
enum LineComparison {
    static func comparable(_ lines: [MapsLine], pageLevel: Bool) -> [MapsLine] {
        var out: [MapsLine] = []
        out.reserveCapacity(lines.count)
        var stream = Stream(pageLevel: pageLevel)
        for line in lines { stream.take(line) { out.append($0) } }
        stream.finish { out.append($0) }
        return out
    }

    /// Makes comparable lines from lines given one at a time, by start:
    /// `take` hands on each finished comparable line (page level: a line
    /// is finished when the next one does not join it), `finish` the last.
    struct Stream {
        let pageLevel: Bool
        private var last: MapsLine?

        init(pageLevel: Bool) { self.pageLevel = pageLevel }

        @inline(__always) mutating func take(_ line: MapsLine, _ done: (MapsLine) -> Void) {
            if SpecialLines.isSpecial(line.path) { return }
            var line = line
            if !line.path.isEmpty, line.path == "/dev/zero (deleted)" || line.path.hasPrefix("/SYSV")
                || line.path.hasPrefix("[anon_shmem:")
            {
                line.deviceMajor = 0
                line.deviceMinor = 0
                line.inode = 0
            }
            if pageLevel, let last, last.end == line.start, last.permissions == line.permissions,
               last.deviceMajor == line.deviceMajor, last.deviceMinor == line.deviceMinor, last.inode == line.inode,
               last.path == line.path, line.inode == 0 || line.offset == last.offset &+ last.length
            {
                self.last!.end = line.end
                return
            }
            if let last { done(last) }
            last = line
        }

        mutating func finish(_ done: (MapsLine) -> Void) {
            if let last { done(last) }
            last = nil
        }
    }

    /// How many lines are in the model's comparable lines and not in
    /// `observed`'s and the other way round (0: they are equal), without
    /// making the model's lines.
    static func mismatches(_ model: AddressSpaceModel, _ observed: [MapsLine], pageLevel: Bool) -> Int {
        var stream = Stream(pageLevel: pageLevel)
        var merge = Merge(observed: observed)
        for line in model.mapsLineSequence { stream.take(line) { merge.compare($0) } }
        stream.finish { merge.compare($0) }
        return merge.count + (observed.count - merge.next)
    }

    /// The merge of `mismatches(_:_:)`, given one line of the first side at a time.
    private struct Merge {
        let observed: [MapsLine]
        var next = 0
        var count = 0

        @inline(__always) mutating func compare(_ a: MapsLine) {
            while next < observed.count {
                let b = observed[next]
                if a == b {
                    next += 1
                    return
                } else if a.start < b.start || (a.start == b.start && a.end < b.end) {
                    count += 1
                    return
                } else {
                    count += 1
                    next += 1
                }
            }
            count += 1
        }
    }

    /// How many lines are in one and not the other (both sorted by start).
    static func mismatches(_ a: [MapsLine], _ b: [MapsLine]) -> Int {
        var i = 0, j = 0, count = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                i += 1
                j += 1
            } else if a[i].start < b[j].start || (a[i].start == b[j].start && a[i].end < b[j].end) {
                count += 1
                i += 1
            } else {
                count += 1
                j += 1
            }
        }
        return count + (a.count - i) + (b.count - j)
    }

    static func difference(_ a: [MapsLine], minus b: [MapsLine]) -> [MapsLine] {
        let other = Set(b)
        return a.filter { !other.contains($0) }
    }
}

/// A snapshot's lines as an address space's judge compares them: the
/// comparable lines, their sum, and how many lines were left out.
struct ObservedLines: Sendable {
    let pageLevel: Bool
    let comparable: [MapsLine]
    let hash: UInt64
    let unmodeled: Int

    init(_ lines: [MapsLine], pageLevel: Bool) {
        self.pageLevel = pageLevel
        comparable = LineComparison.comparable(lines, pageLevel: pageLevel)
        hash = LineHash.sum(lines, pageLevel ? .pageLevel : .exact)
        unmodeled = lines.count { SpecialLines.isSpecial($0.path) }
    }
}

/// One snapshot on its way to its judge. `outcome` is written once, before
/// `done` is signalled (by the thread that parses it, or by the decoding
/// thread when there is nothing to parse), and read only after waiting on `done`.
private final class PreparedSnapshot: @unchecked Sendable {
    enum Outcome {
        case lines(ObservedLines)
        case notReadToEnd
        case unparsable(String)
    }

    let index: Int
    let key: AddressSpaceKey
    let tBegin: UInt64
    let tEnd: UInt64
    var outcome: Outcome?
    let done = DispatchSemaphore(value: 0)

    init(index: Int, key: AddressSpaceKey, tBegin: UInt64, tEnd: UInt64) {
        self.index = index
        self.key = key
        self.tBegin = tBegin
        self.tEnd = tEnd
    }
}

/// The whole-address-space analysis of a traced recording.
public struct AddressSpaceAnalysis: Sendable {
    public var reports: [AddressSpaceReport]
    /// By snapshot index.
    public var verdicts: [Int: WholeSpaceVerdict]

    /// One address space: its model checked against its final read first
    /// (which decides exact or page-level matching), then its snapshots
    /// judged one at a time as they stream by.
    struct SpaceJudge {
        let key: AddressSpaceKey
        let mutations: [SpaceMutation]
        let start: AddressSpaceModel
        let pageLevel: Bool
        /// A replay kept at state `cursorState`, moved forward to each
        /// snapshot's window (and rebuilt from `start` if one comes earlier).
        var cursor: AddressSpaceModel
        var cursorState = 0
        /// Where the last window's walk stopped: the next snapshot usually
        /// starts there or later.
        var ahead: AddressSpaceModel?
        var aheadState = 0
        var report: AddressSpaceReport

        /// Moves the cursor to `state` (at most the last one).
        mutating func advance(to state: Int) {
            if let ahead, state >= aheadState, aheadState > cursorState {
                cursor = ahead
                cursorState = aheadState
            }
            ahead = nil
            if state < cursorState {
                cursor = start
                cursorState = 0
            }
            while cursorState < state {
                if let change = mutations[cursorState].change { cursor.apply(change) }
                cursorState += 1
            }
        }

        /// Judges one snapshot's lines, prepared for this judge's matching,
        /// against the states of its window.
        mutating func judge(index: Int, _ lines: ObservedLines, tBegin: UInt64, tEnd: UInt64) -> WholeSpaceVerdict {
            precondition(lines.pageLevel == pageLevel, "snapshot lines prepared for the other matching")
            let lo = mutations.partitionPoint { $0.tEnd >= tBegin }
            var hi = mutations.count
            while hi > lo, mutations[hi - 1].tBegin >= tEnd { hi -= 1 }
            let observed = lines.comparable
            let hash = lines.hash
            let unmodeled = lines.unmodeled
            advance(to: lo)
            // The states of the window: the sums compared at each (constant
            // time), the lines in full only when they agree.
            var walk = cursor
            var walked = lo
            var explaining: Int?
            var atLo = 0, atHi = 0
            var comparedAtLo = false
            defer {
                ahead = walk
                aheadState = walked
            }
            for state in lo...hi {
                let now = pageLevel ? walk.pageHash : walk.exactHash
                // The lines are compared in full only where the sums agree,
                // and at the window's end (how far they are from it; from its
                // start too, below, when no state explains them).
                if now == hash || state == hi {
                    let mismatches = LineComparison.mismatches(walk, observed, pageLevel: pageLevel)
                    if now == hash, mismatches == 0 {
                        explaining = state
                        break
                    }
                    if state == lo { atLo = mismatches; comparedAtLo = true }
                    if state == hi { atHi = mismatches }
                }
                if state < hi {
                    if let change = mutations[state].change { walk.apply(change) }
                    walked = state + 1
                }
            }
            if explaining == nil, !comparedAtLo {
                // The cursor is still at the window's first state.
                atLo = LineComparison.mismatches(cursor, observed, pageLevel: pageLevel)
            }
            let space = key.description
            return WholeSpaceVerdict(
                pid: key.pid, generation: key.generation, judged: true, consistent: explaining != nil,
                explainingState: explaining, stateLo: lo, stateHi: hi, match: pageLevel ? "page_level" : "exact",
                unmodeledLines: unmodeled, mismatchesAtLo: explaining == nil ? atLo : 0,
                mismatchesAtHi: explaining == nil ? atHi : 0,
                detail: explaining.map { "state \($0) of \(space) explains every line (\(unmodeled) unmodeled lines left out)" }
                    ?? "no state \(lo)...\(hi) of \(space) explains it: \(atLo) lines differ from state \(lo), \(atHi) from state \(hi)")
        }
    }

    /// Models every address space that has an initial quiescent read, and
    /// judges every snapshot that read one of them. The snapshots are
    /// judged line for line while the model replays towards its end; the
    /// model is then checked against the final read, and the snapshots of
    /// an address space it does not reproduce are judged again, page by page.
    static func run(
        _ context: TraceContext, only: Int?, format: SnapshotAnalyzer.TextFormat
    ) throws(AnalysisError) -> AddressSpaceAnalysis? {
        let spaces = context.spaces
        guard !spaces.isEmpty else { return nil }
        let keys = spaces.initial.keys.sorted()
        var judges: [AddressSpaceKey: SpaceJudge] = [:]
        for key in keys { judges[key] = try makeJudge(key, context: context, pageLevel: false) }
        var verdicts: [Int: WholeSpaceVerdict] = [:]
        try judgeSnapshots(context, only: only, format: format, judges: &judges, verdicts: &verdicts, of: nil)
        var pageLevel: Set<AddressSpaceKey> = []
        for key in keys {
            var judge = judges[key]!
            // The rest of the replay compares no sums: they are not kept.
            judge.cursor.keepHashes(nil)
            judge.ahead?.keepHashes(nil)
            judge.advance(to: judge.mutations.count)
            try validate(&judge, context: context)
            if !judge.report.validated { pageLevel.insert(key) }
            judges[key] = judge
        }
        if !pageLevel.isEmpty {
            for key in pageLevel {
                var again = try makeJudge(key, context: context, pageLevel: true)
                again.report = judges[key]!.report
                again.report.snapshots = []
                again.report.judgedSnapshots = 0
                again.report.consistentSnapshots = 0
                judges[key] = again
            }
            try judgeSnapshots(context, only: only, format: format, judges: &judges, verdicts: &verdicts, of: pageLevel)
        }
        return AddressSpaceAnalysis(reports: keys.map { judges[$0]!.report }, verdicts: verdicts)
    }

    /// Streams the snapshots and judges each against the address space it
    /// read (only those of `of`'s address spaces, when given). While this
    /// thread decodes the next snapshots and judges them in file order, up
    /// to one per core are parsed and prepared (`ObservedLines`) on other threads.
    static func judgeSnapshots(
        _ context: TraceContext, only: Int?, format: SnapshotAnalyzer.TextFormat,
        judges: inout [AddressSpaceKey: SpaceJudge], verdicts: inout [Int: WholeSpaceVerdict],
        of subset: Set<AddressSpaceKey>?
    ) throws(AnalysisError) {
        // Each judged address space's matching, for the threads that prepare lines.
        let matching = judges.mapValues(\.pageLevel)
        var pending: [PreparedSnapshot] = []
        let width = TraceAnalysis.analysisThreads
        func finish(_ prepared: PreparedSnapshot) {
            prepared.done.wait()
            let key = prepared.key
            func unjudged(_ match: String, _ detail: String) -> WholeSpaceVerdict {
                WholeSpaceVerdict(
                    pid: key.pid, generation: key.generation, judged: false, consistent: nil, explainingState: nil,
                    stateLo: 0, stateHi: 0, match: match, unmodeledLines: 0, mismatchesAtLo: 0, mismatchesAtHi: 0,
                    detail: detail)
            }
            guard var judge = judges[key] else {
                verdicts[prepared.index] = unjudged(
                    "none", "the tracer did not follow the address space it read (no quiescent read of it)")
                return
            }
            judge.report.snapshots.append(prepared.index)
            let match = judge.pageLevel ? "page_level" : "exact"
            switch prepared.outcome {
            case .notReadToEnd:
                verdicts[prepared.index] = unjudged(match, "the reader did not read it to the end of the file")
            case .unparsable(let error):
                verdicts[prepared.index] = unjudged(match, "its text does not parse (\(error))")
            case .lines(let lines):
                let verdict = judge.judge(index: prepared.index, lines, tBegin: prepared.tBegin, tEnd: prepared.tEnd)
                judge.report.judgedSnapshots += 1
                if verdict.consistent == true { judge.report.consistentSnapshots += 1 }
                verdicts[prepared.index] = verdict
            case nil:
                preconditionFailure("a snapshot's preparation signalled without a result")
            }
            judges[key] = judge
        }
        try context.forEachSnapshot(only: only) { snapshot in
            guard let source = context.snapshotSources[snapshot.index] else { return }
            let key = AddressSpaceKey(pid: source.targetPID, generation: source.targetGeneration)
            if let subset, !subset.contains(key) { return }
            if pending.count >= width { finish(pending.removeFirst()) }
            let tBegin = snapshot.reads.first?.tBegin ?? snapshot.begin?.tBegin ?? 0
            let prepared = PreparedSnapshot(
                index: snapshot.index, key: key, tBegin: tBegin,
                tEnd: snapshot.reads.last?.tEnd ?? snapshot.end?.tEnd ?? tBegin)
            pending.append(prepared)
            let flags = context.snapshotEndFlags[snapshot.index] ?? []
            guard let pageLevel = matching[key], flags.contains(.reachedEOF) else {
                // Nothing to parse: not read to the end, or no model of its
                // space (`finish` gives such a snapshot its verdict before
                // looking at the outcome).
                prepared.outcome = .notReadToEnd
                prepared.done.signal()
                return
            }
            DispatchQueue.global().async {
                do throws(MapsParseError) {
                    let text = switch format {
                    case .maps: try MapsParser.parseLinux(snapshot.bytes)
                    case .smapsHeaders: try MapsParser.parseSmapsHeaders(snapshot.bytes)
                    }
                    prepared.outcome = .lines(ObservedLines(text.lines, pageLevel: pageLevel))
                } catch {
                    prepared.outcome = .unparsable("\(error)")
                }
                prepared.done.signal()
            }
        }
        for prepared in pending { finish(prepared) }
    }

    /// `key`'s model at its initial read, keeping the sum its matching
    /// compares, and a report not yet checked.
    static func makeJudge(_ key: AddressSpaceKey, context: TraceContext, pageLevel: Bool) throws(AnalysisError) -> SpaceJudge {
        let spaces = context.spaces
        let mutations = spaces.mutations[key] ?? []
        let initial: MapsText
        do { initial = try MapsParser.parseLinux(spaces.initial[key]!.text) } catch {
            throw .unparsableQuiescentMaps(.initial, error)
        }
        var start = AddressSpaceModel(
            initial: initial.lines, pageSize: context.header.pageSize, forked: context.isForkedChild(key))
        start.keepHashes(pageLevel ? .pageLevel : .exact)
        let unmodeled = mutations.compactMap(\.unmodeled)
        let report = AddressSpaceReport(
            pid: key.pid, generation: key.generation, command: context.processes.last { $0.pid == key.pid }?.command ?? "",
            mutations: mutations.count, unmodeledMutations: unmodeled.count,
            unmodeledMutationExamples: Array(unmodeled.prefix(3)), initialLines: initial.lines.count,
            finalLines: nil, modeledLines: 0,
            unmodeledLines: initial.lines.filter { SpecialLines.isSpecial($0.path) }.map(\.description),
            validated: false, match: pageLevel ? "page_level" : "exact", pageLevelAgrees: nil,
            finalMismatches: 0, examples: [], detail: "", snapshots: [], judgedSnapshots: 0, consistentSnapshots: 0)
        return SpaceJudge(key: key, mutations: mutations, start: start, pageLevel: pageLevel, cursor: start, report: report)
    }

    /// Compares the judge's model, after every mutation, with the final
    /// quiescent read, and fills in the report's check.
    static func validate(_ judge: inout SpaceJudge, context: TraceContext) throws(AnalysisError) {
        let key = judge.key
        let mutations = judge.mutations
        let unmodeled = mutations.compactMap(\.unmodeled)
        let final: MapsText?
        if let text = context.spaces.final[key]?.text {
            do { final = try MapsParser.parseLinux(text) } catch { throw .unparsableQuiescentMaps(.final, error) }
        } else {
            final = nil
        }
        var report = judge.report
        let modelFinal = judge.cursor.mapsLines
        var validated = false
        if let final {
            let special = final.lines.filter { SpecialLines.isSpecial($0.path) }
            report.unmodeledLines = special.map(\.description)
            report.finalLines = final.lines.count
            let exactModel = LineComparison.comparable(modelFinal, pageLevel: false)
            let exactFinal = LineComparison.comparable(final.lines, pageLevel: false)
            let mismatchCount = LineComparison.mismatches(exactModel, exactFinal)
            report.finalMismatches = mismatchCount
            report.modeledLines = exactFinal.count
            if mismatchCount > 0 {
                let missing = LineComparison.difference(exactFinal, minus: exactModel)
                report.modeledLines -= missing.count
                for line in missing.prefix(3) { report.examples.append("final maps has `\(line)`, the model does not") }
                for line in LineComparison.difference(exactModel, minus: exactFinal).prefix(3) {
                    report.examples.append("the model has `\(line)`, final maps does not")
                }
            }
            validated = mismatchCount == 0 && unmodeled.isEmpty
            if validated {
                report.detail = "replaying \(mutations.count) mutations from the initial quiescent maps reproduces the final quiescent maps line for line (\(special.count) lines no syscall explains left out)"
            } else {
                let agrees = LineComparison.comparable(modelFinal, pageLevel: true)
                    == LineComparison.comparable(final.lines, pageLevel: true)
                report.pageLevelAgrees = agrees
                var reasons: [String] = []
                if mismatchCount > 0 { reasons.append("\(mismatchCount) line mismatches with the final quiescent maps") }
                if !unmodeled.isEmpty { reasons.append("\(unmodeled.count) unmodeled mutations (\(unmodeled[0]))") }
                report.detail = "the replay of \(mutations.count) mutations does not reproduce the final quiescent maps exactly: "
                    + reasons.joined(separator: ", ")
                    + (agrees
                        ? "; page by page it agrees (lines split or merge differently, e.g. anonymous memory that was touched)"
                        : "; it does not agree page by page either")
                    + "; snapshots are judged page by page"
            }
        } else {
            report.detail = "no final quiescent maps of this address space (it exec'd or was still running); snapshots are judged page by page"
        }
        report.validated = validated
        report.match = validated ? "exact" : "page_level"
        judge.report = report
    }
}

/// Why a traced address space cannot be replayed.
public enum AddressSpaceError: Error, CustomStringConvertible, Equatable {
    /// The trace has no quiescent read of it (not traced, or written before record 0x40).
    case notTraced(AddressSpaceKey, available: [AddressSpaceKey])
    case noSuchState(AddressSpaceKey, state: Int, last: Int)

    public var description: String {
        switch self {
        case .notTraced(let key, let available):
            "the trace has no model of the address space of \(key)"
                + (available.isEmpty
                    ? " (it has no address-space maps records: not a traced recording, or one written before them)"
                    : " (it has: \(available.map(\.description).joined(separator: "; ")))")
        case .noSuchState(let key, let state, let last):
            "state \(state) cannot be replayed: the model of \(key) covers states 0 (its initial quiescent maps) to \(last) (every mutation applied)"
        }
    }
}

extension TraceContext {
    /// The traced address spaces the trace can model, by pid then generation.
    public var addressSpaces: [AddressSpaceKey] { spaces.initial.keys.sorted() }

    /// How many mutations the address space logged (its last state).
    public func lastState(of key: AddressSpaceKey) -> Int { spaces.mutations[key]?.count ?? 0 }

    /// The state of `key` at an absolute CLOCK_MONOTONIC instant: every
    /// mutation of it that had returned by then.
    public func state(of key: AddressSpaceKey, atInstant instant: UInt64) -> Int {
        (spaces.mutations[key] ?? []).partitionPoint { $0.tEnd > instant }
    }

    /// The whole-address-space model of `key` after its first `state` mutations.
    public func addressSpaceModel(_ key: AddressSpaceKey, at state: Int) throws(AnalysisError) -> AddressSpaceModel {
        guard let initialMaps = spaces.initial[key] else {
            throw .addressSpace(.notTraced(key, available: addressSpaces))
        }
        let mutations = spaces.mutations[key] ?? []
        guard state >= 0 && state <= mutations.count else {
            throw .addressSpace(.noSuchState(key, state: state, last: mutations.count))
        }
        let initial: MapsText
        do { initial = try MapsParser.parseLinux(initialMaps.text) } catch {
            throw .unparsableQuiescentMaps(.initial, error)
        }
        var model = AddressSpaceModel(initial: initial.lines, pageSize: header.pageSize, forked: isForkedChild(key))
        for mutation in mutations.prefix(state) { if let change = mutation.change { model.apply(change) } }
        return model
    }

    /// Generation 0 of a process with a traced parent: its first read is the fork's.
    func isForkedChild(_ key: AddressSpaceKey) -> Bool {
        key.generation == 0 && processes.contains { $0.pid == key.pid && $0.parentPID != 0 }
    }
}
