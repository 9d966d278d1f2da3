import MapsModel
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Why a trace could not be analyzed.
public enum AnalysisError: Error, CustomStringConvertible, Equatable {
    case trace(TraceError)
    case missingRecord(String)
    /// An arena record the replay cannot use (empty, reversed, unaligned or
    /// too large); the reason says which.
    case unusableArena(ArenaRecord, reason: String)
    case unparsableQuiescentMaps(QuiescentRole, MapsParseError)
    case replay(ReplayError)
    case noSuchSnapshot(Int, available: Int)
    /// The snapshot asked for is not in what could be read of a cut trace.
    case snapshotLostToTruncation(Int, available: Int, TraceTruncation)
    case noSuchState(Int, first: Int, last: Int)
    /// A traced address space that cannot be modeled (AddressSpaces.swift).
    case addressSpace(AddressSpaceError)

    public var description: String {
        switch self {
        case .trace(let error):
            error.description
        case .missingRecord(let what):
            "the trace has no \(what) record, which analysis needs"
        case .unusableArena(let arena, let reason):
            "the trace's arena \(addressString(arena.start))-\(addressString(arena.end)) is malformed: \(reason)"
        case .unparsableQuiescentMaps(let role, let error):
            "the trace's \(role) quiescent maps does not parse: \(error)"
        case .replay(let error):
            "cannot replay the ground truth: \(error)"
        case .noSuchSnapshot(let index, let available):
            available == 0
                ? "snapshot \(index) is not in the trace: it has no snapshots"
                : "snapshot \(index) is not in the trace: it has snapshots 0 to \(available - 1)"
        case .snapshotLostToTruncation(let index, let available, let cut):
            "snapshot \(index) is not in what could be read (\(available) snapshot(s) recovered): "
                + TraceError.truncated(cut).description
        case .noSuchState(let state, let first, let last):
            "state \(state) cannot be replayed: the trace's model covers states \(first) (its initial quiescent maps) to \(last) (every mutation applied)"
        case .addressSpace(let error):
            error.description
        }
    }
}

/// Where a trace comes from: a file, or bytes already in memory (tests).
public enum TraceSource: Sendable {
    case file(String)
    case bytes([UInt8])
    /// A file that could be read only once (a pipe, a FIFO, process
    /// substitution), read again from the copy made while it was read.
    case copied(String, TraceCopy)

    func makeReader() throws(AnalysisError) -> TraceReader {
        switch self {
        case .file(let path):
            do { return try TraceReader(path: path) } catch { throw .trace(error) }
        case .bytes(let bytes):
            return TraceReader(bytes: bytes)
        case .copied(let path, let copy):
            do { return try copy.reader(named: path) } catch { throw .trace(error) }
        }
    }

    public var name: String {
        switch self {
        case .file(let path), .copied(let path, _): path
        case .bytes: "<memory>"
        }
    }
}

/// An unlinked temporary file holding the compressed bytes of a trace that
/// could be read only once, so that analysis, which reads a trace twice
/// (context, then snapshots), works on pipes too. It takes disk, not
/// memory, and is gone when the last reference to it is.
public final class TraceCopy: Sendable {
    let descriptor: Int32
    let name: String

    init() throws(TraceError) {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/mapsrace-input-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw .io(path: "\(directory)/mapsrace-input-XXXXXX", errno: errno) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        name = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        unlink(name)
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// A reader of the copy from its start, with its own file offset.
    func reader(named path: String) throws(TraceError) -> TraceReader {
        let fresh = open("/proc/self/fd/\(descriptor)", O_RDONLY | O_CLOEXEC)
        guard fresh >= 0 else { throw .io(path: name, errno: errno) }
        return TraceReader(descriptor: fresh, path: path)
    }
}

/// One read(2) of an observed snapshot, without its bytes (they are in
/// `ObservedSnapshot.bytes`).
public struct ObservedRead: Sendable, Equatable {
    public var sequence: Int
    public var offset: UInt64
    public var requested: UInt64
    public var returned: Int64
    public var errno: Int32
    public var tBegin: UInt64
    public var tEnd: UInt64
}

/// A snapshot as the reader saw it: its reads and their bytes, concatenated.
public struct ObservedSnapshot: Sendable, Equatable {
    public var index: Int
    public var begin: SnapshotBegin?
    public var end: SnapshotEnd?
    public var reads: [ObservedRead] = []
    public var bytes: [UInt8] = []
}

/// Everything in a trace except the snapshots' bytes: what replay needs.
/// Loaded in one streaming pass (which can hand each snapshot to a
/// `SnapshotPrefetcher` as it goes); snapshots are then streamed one at a time.
public struct TraceContext: Sendable {
    public var source: TraceSource
    public var header: TraceHeader
    public var arena: ArenaRecord
    public var mutations: [MutationRecord]
    public var initialMaps: QuiescentMaps
    public var finalMaps: QuiescentMaps?
    public var trailer: TraceTrailer?
    public var completion: TraceCompletion
    /// Snapshot indexes in file order.
    public var snapshotIndexes: [Int]
    /// How long the reader held the target stopped, by snapshot index
    /// (`frozen` reader only).
    public var pauses: [Int: ReaderPause] = [:]
    /// How each snapshot ended (its end record's flags), by snapshot index.
    public var snapshotEndFlags: [Int: SnapshotFlags] = [:]
    /// Version 2, `record -- CMD`: the processes the tracer followed, and
    /// which process each snapshot read (by snapshot index).
    public var processes: [TracedProcess] = []
    public var snapshotSources: [Int: SnapshotSource] = [:]
    /// Version 2, `record -- CMD`: every traced address space's quiescent
    /// texts and mutations (AddressSpaces.swift).
    public var spaces = TracedSpaces()

    /// - Parameter prefetcher: sees each snapshot as soon as this pass has
    ///   put it together.
    public static func load(
        _ source: TraceSource, prefetcher: (any SnapshotPrefetcher)? = nil
    ) throws(AnalysisError) -> TraceContext {
        var source = source
        let reader = try source.makeReader()
        // The snapshots are read in a second pass: keep a copy of an input
        // that cannot be read twice.
        if case .file(let path) = source, !reader.inputIsRereadable {
            do {
                let copy = try TraceCopy()
                reader.copyInput(to: copy.descriptor, named: copy.name)
                source = .copied(path, copy)
            } catch {
                throw .trace(error)
            }
        }
        var header: TraceHeader?
        var arena: ArenaRecord?
        var mutations: [MutationRecord] = []
        // Address space for a million mutations up front: only the pages
        // written are ever touched, and the array is not copied (and its
        // copies' fresh pages faulted in) at each doubling on the way.
        mutations.reserveCapacity(1 << 20)
        var initial: QuiescentMaps?
        var final: QuiescentMaps?
        var trailer: TraceTrailer?
        var snapshots: [Int] = []
        var pauses: [Int: ReaderPause] = [:]
        var endFlags: [Int: SnapshotFlags] = [:]
        var texts = QuiescentTextAssembler()
        var assembler = SnapshotAssembler(only: nil)
        var traced = TracedRecordings()
        // The prefetcher starts at the first snapshot if everything replay
        // needs came before it, and is let go if more of that comes after.
        var prefetching: (any SnapshotPrefetcher)?
        var prefetchDecided = prefetcher == nil
        func hand(_ snapshot: ObservedSnapshot) {
            prefetching?.prefetch(snapshot)
        }
        /// Whether someone takes the snapshots this pass puts together.
        var assembling: Bool { prefetching != nil || !prefetchDecided }
        func replayInputChanged() {
            prefetching?.abandon()
            prefetching = nil
        }
        do {
            // Borrowed views: the chunk bytes, which this pass does not need,
            // are never copied.
            while let view = try reader.nextView() {
                switch view {
                case .header:
                    header = reader.header
                    replayInputChanged()
                case .arena(let value):
                    arena = value
                    replayInputChanged()
                case .mutation(let value):
                    mutations.append(value)
                    if prefetching != nil { replayInputChanged() }
                case .quiescentFragment(let fragment):
                    guard let value = texts.add(fragment) else { continue }
                    if value.role == .initial {
                        initial = value
                        replayInputChanged()
                        if !prefetchDecided { prefetcher?.prepare(initialMaps: value) }
                    } else {
                        final = value
                    }
                case .snapshotBegin(let value):
                    snapshots.append(Int(value.index))
                    if !prefetchDecided {
                        prefetchDecided = true
                        // Replay starts early only for an arena the bytes read so
                        // far can describe; the check after the whole trace is read
                        // judges it against all of them.
                        if let prefetcher, let header, let arena, let initial,
                           (try? Self.checkArena(arena, pageSize: header.pageSize, rawBytes: reader.rawBytesRead)) != nil,
                           prefetcher.begin(header: header, arena: arena, initialMaps: initial, mutations: mutations) {
                            prefetching = prefetcher
                        }
                    }
                    if assembling, let finished = assembler.begin(value) { hand(finished) }
                case .trailer(let value): trailer = value
                case .pause(let value): pauses[Int(value.snapshot)] = value
                case .readChunk(let chunk):
                    if assembling { assembler.add(chunk) }
                case .snapshotEnd(let end):
                    endFlags[Int(end.index)] = end.flags
                    if assembling, let finished = assembler.end(end) { hand(finished) }
                case .traced(let value):
                    // A traced recording's mutations are its modeled traced
                    // syscalls, numbered as they come (TracedModel.swift).
                    if let header, let mutation = traced.add(value, header: header, sequence: mutations.count) {
                        mutations.append(mutation)
                        if prefetching != nil { replayInputChanged() }
                    }
                }
            }
        } catch {
            throw .trace(error)
        }
        // A record missing because the file was cut is a truncation, not a
        // malformed trace.
        if case .truncated(let cut) = reader.completion, header == nil || arena == nil || initial == nil {
            throw .trace(.truncated(cut))
        }
        guard let header else { throw .missingRecord("header") }
        guard let arena else { throw .missingRecord("arena") }
        guard let initial else { throw .missingRecord("initial quiescent maps") }
        try checkArena(arena, pageSize: header.pageSize, rawBytes: reader.rawBytesRead)
        if assembling, let unfinished = assembler.current { hand(unfinished) }
        return TraceContext(
            source: source, header: header, arena: arena, mutations: mutations,
            initialMaps: initial, finalMaps: final, trailer: trailer,
            completion: reader.completion, snapshotIndexes: snapshots, pauses: pauses,
            snapshotEndFlags: endFlags, processes: traced.processes, snapshotSources: traced.sources,
            spaces: traced.spaces)
    }

    /// The most pages an arena may have: the ground truth keeps a protection
    /// per page and state, so a forged arena must not make it allocate
    /// without bound.
    public static let maxArenaPages: UInt64 = 1 << 24
    /// An arena of up to this many pages is accepted from any trace; a
    /// larger one needs a trace of at least one raw-stream byte per page.
    /// Replay costs about 32 bytes per arena page, so the memory a trace's
    /// header and arena record can claim stays proportional to what the
    /// trace holds: a few bytes of header cannot claim gigabytes. Every
    /// recording has more: its workload logs at least two mutations per
    /// page (15-30 bytes each), and its quiescent maps a line per mapping.
    public static let arenaPagesFreeOfCharge: UInt64 = 1 << 16

    /// Rejects an arena the replay cannot model, before anything allocates
    /// for it or forms a range from it: `rawBytes` is the size of the
    /// trace's raw stream.
    static func checkArena(_ arena: ArenaRecord, pageSize: UInt64, rawBytes: UInt64) throws(AnalysisError) {
        guard arena.start < arena.end else {
            throw .unusableArena(arena, reason: "its start is not below its end")
        }
        guard pageSize >= 1024, pageSize <= 1 << 30, pageSize & (pageSize - 1) == 0 else {
            throw .unusableArena(arena, reason: "the header's page size \(pageSize) is not a power of two from 1 KiB to 1 GiB")
        }
        guard arena.start % pageSize == 0, arena.end % pageSize == 0 else {
            throw .unusableArena(arena, reason: "it is not aligned to the page size \(pageSize)")
        }
        let pages = (arena.end - arena.start) / pageSize
        guard pages <= maxArenaPages else {
            throw .unusableArena(
                arena,
                reason: "its \(pages) pages exceed the limit of \(maxArenaPages) (the ground truth allocates per page)")
        }
        guard pages <= max(arenaPagesFreeOfCharge, rawBytes) else {
            throw .unusableArena(
                arena,
                reason: "its \(pages) pages are more than a trace of \(rawBytes) raw bytes can describe (at most one page per byte above \(arenaPagesFreeOfCharge) pages; the ground truth allocates per page)")
        }
    }

    /// Streams the snapshots in file order, one at a time (only one
    /// snapshot's bytes are in memory), optionally only the one at `only`.
    public func forEachSnapshot(
        only: Int? = nil, _ body: (ObservedSnapshot) throws(AnalysisError) -> Void
    ) throws(AnalysisError) {
        let reader = try source.makeReader()
        // `load` read the traced records (snapshot sources among them) already.
        reader.skipsTracedRecords = true
        var assembler = SnapshotAssembler(only: only)
        do {
            // Borrowed views: each chunk's bytes go straight from the
            // decompressed block into the snapshot's bytes.
            while let view = try reader.nextView() {
                switch view {
                case .snapshotBegin(let begin):
                    if let finished = assembler.begin(begin) { try body(finished) }
                case .readChunk(let chunk):
                    assembler.add(chunk)
                case .snapshotEnd(let end):
                    if let finished = assembler.end(end) { try body(finished) }
                default:
                    continue
                }
            }
        } catch let error as TraceError {
            throw .trace(error)
        } catch let error as AnalysisError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
        // A snapshot cut off by truncation is analysed as far as it got.
        if let unfinished = assembler.current { try body(unfinished) }
    }

    /// The state the initial quiescent maps shows: every mutation that had
    /// returned before that read began.
    public var baseState: Int {
        MutationClock(mutations).states(from: initialMaps.tBegin, to: initialMaps.tBegin).lowerBound
    }

    /// Builds the ground-truth replay (or takes `prebuilt`, one built from
    /// this trace's initial maps and mutations).
    public func groundTruth(
        prebuilt: (truth: GroundTruth, initial: MapsText)? = nil
    ) throws(AnalysisError) -> (GroundTruth, initial: MapsText, final: MapsText?) {
        let initial: MapsText
        if let prebuilt { initial = prebuilt.initial } else {
            do { initial = try MapsParser.parseLinux(initialMaps.text) } catch {
                throw .unparsableQuiescentMaps(.initial, error)
            }
        }
        var final: MapsText?
        if let finalMaps {
            do { final = try MapsParser.parseLinux(finalMaps.text) } catch {
                throw .unparsableQuiescentMaps(.final, error)
            }
        }
        if let prebuilt { return (prebuilt.truth, initial, final) }
        do {
            let truth = try GroundTruth(
                initialMaps: initial, arena: arena.start..<arena.end, pageSize: header.pageSize,
                mutations: mutations, baseState: baseState)
            return (truth, initial, final)
        } catch {
            throw .replay(error)
        }
    }
}

extension Array {
    /// The index of the first element for which `belongs` is true, assuming
    /// the array is partitioned (all false, then all true). Public for the
    /// report's timeline, which looks mutations up by time the same way.
    public func partitionPoint(where belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// Puts snapshots together from their records in file order: a begin, the
/// read chunks that name it, an end. Chunks of another snapshot are skipped.
struct SnapshotAssembler {
    /// Only this snapshot, or all when nil.
    let only: Int?
    /// The snapshot being put together (a cut trace can leave one unfinished).
    private(set) var current: ObservedSnapshot?
    /// The last snapshot's size: the next one is about as large.
    private var lastByteCount = 0

    init(only: Int?) { self.only = only }

    /// Starts a snapshot; returns the previous one if it had no end record.
    mutating func begin(_ begin: SnapshotBeginView) -> ObservedSnapshot? {
        let finished = current
        if let finished { lastByteCount = finished.bytes.count }
        current = nil
        if only == nil || only == Int(begin.index) {
            var snapshot = ObservedSnapshot(index: Int(begin.index), begin: begin.record)
            snapshot.bytes.reserveCapacity(lastByteCount + lastByteCount / 8)
            current = snapshot
        }
        return finished
    }

    mutating func add(_ chunk: ReadChunkView) {
        guard current?.index == Int(chunk.snapshot) else { return }
        current?.reads.append(ObservedRead(
            sequence: Int(chunk.sequence), offset: chunk.offset, requested: chunk.requested,
            returned: chunk.returned, errno: chunk.errno, tBegin: chunk.tBegin, tEnd: chunk.tEnd))
        current?.bytes.append(contentsOf: chunk.bytes)
    }

    /// Ends the current snapshot if `end` names it, and returns it.
    mutating func end(_ end: SnapshotEnd) -> ObservedSnapshot? {
        guard var finished = current, finished.index == Int(end.index) else { return nil }
        finished.end = end
        current = nil
        lastByteCount = finished.bytes.count
        return finished
    }
}

/// Sees the snapshots as `TraceContext.load` completes them, from the first
/// snapshot on, when everything replay needs came before it (the recorder
/// writes the header, arena, initial quiescent maps and mutations first):
/// work on them can start while the pass decodes the rest.
public protocol SnapshotPrefetcher: AnyObject {
    /// The initial quiescent maps, as soon as it is read (before the
    /// mutations, in the recorder's order), so that work on it can start.
    func prepare(initialMaps: QuiescentMaps)
    /// Called at the first snapshot with what came before it; false: send
    /// nothing more.
    func begin(header: TraceHeader, arena: ArenaRecord, initialMaps: QuiescentMaps, mutations: [MutationRecord]) -> Bool
    /// One more snapshot, complete (or the last one of a cut trace), in file order.
    func prefetch(_ snapshot: ObservedSnapshot)
    /// A record replay needs came after the first snapshot: what was begun
    /// does not hold; nothing more is sent.
    func abandon()
}
