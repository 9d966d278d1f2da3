import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What the mutator does to its arena. Every workload keeps all its changes
/// inside the arena (mapped PROT_NONE first, then changed with MAP_FIXED
/// mmaps, mprotect, munmap and in-place or MAP_FIXED mremap), logs every
/// mapping syscall it makes, setup included, and never touches an arena page
/// (so no page is ever faulted in: see `MovedPageOffset.rebased`).
/// docs/recording.md describes each.
public enum Workload: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The seed's rolling-mprotect experiment (see `RollingWorkload`).
    case rolling
    /// One page of a mapping mmap'd with another protection (three lines),
    /// then mmap'd back (one line again), over many mappings.
    case splitMerge = "split-merge"
    /// Three-page mappings mremap'd down to one page and back, in place.
    case resize
    /// A page mremap'd (MAYMOVE | FIXED | DONTUNMAP) into the middle of
    /// another mapping, then mprotect'ed to that mapping's protection.
    case remap
    /// Small mappings of random protections mmap'd and munmap'd at random.
    case churn

    public init(parsing text: String) throws(RecordingError) {
        guard let workload = Workload(rawValue: text) else {
            throw .invalidWorkload(text)
        }
        self = workload
    }

    public var description: String { rawValue }

    /// The arena size `record` uses when `--pages` is not given: for
    /// `rolling` the seed's, for the others one whose maps spans a few hundred
    /// KiB (thousands of lines, ~100 reads a snapshot) and whose loop runs
    /// for a few hundred milliseconds.
    public var defaultPageCount: Int {
        switch self {
        case .rolling: RecordingConfiguration.defaultPageCount
        case .splitMerge, .resize, .remap, .churn: 16384
        }
    }

    /// The smallest arena the workload runs on.
    public var minimumPageCount: Int {
        switch self {
        case .rolling: 2
        case .splitMerge: 2 * SplitMergeMutator.groupPages
        case .resize: ResizeMutator.cellPages
        case .remap: RemapMutator.cellPages
        case .churn: ChurnMutator.largestMappingPages
        }
    }

    /// Exactly the mutations a complete run issues, setup included.
    public func mutationCount(pageCount: Int) -> Int {
        switch self {
        case .rolling: RollingWorkload.mutationCount(pageCount: pageCount)
        case .splitMerge: SplitMergeMutator.Plan(pageCount: pageCount).mutationCount
        case .resize: ResizeMutator.Plan(pageCount: pageCount).mutationCount
        case .remap: RemapMutator.Plan(pageCount: pageCount).mutationCount
        case .churn: ChurnMutator.Plan(pageCount: pageCount).mutationCount
        }
    }

    /// The most map entries the arena's pages can take at any instant
    /// (guard pages not counted).
    public func maximumArenaLines(pageCount: Int) -> Int {
        switch self {
        case .rolling, .churn: pageCount
        case .splitMerge: SplitMergeMutator.Plan(pageCount: pageCount).maximumLines
        case .resize: ResizeMutator.Plan(pageCount: pageCount).maximumLines
        case .remap: RemapMutator.Plan(pageCount: pageCount).maximumLines
        }
    }

    /// The workload's own parameters for the trace header (after `pages`,
    /// `noreserve` and `guard_pages`, which every workload records).
    public func traceParameters(pageCount: Int) -> [TraceParameter] {
        switch self {
        case .rolling: []
        case .splitMerge: SplitMergeMutator.Plan(pageCount: pageCount).traceParameters
        case .resize: ResizeMutator.Plan(pageCount: pageCount).traceParameters
        case .remap: RemapMutator.Plan(pageCount: pageCount).traceParameters
        case .churn: ChurnMutator.Plan(pageCount: pageCount).traceParameters
        }
    }

    /// The workload's mutator, everything it needs preallocated.
    func makeMutator(pageCount: Int, seed: UInt64, noReserve: Bool, logMutations: Bool) throws(RecordingError)
        -> any ArenaMutator
    {
        let mapFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (noReserve ? MAP_NORESERVE : 0)
        switch self {
        case .rolling:
            return try RollingMutator(pageCount: pageCount, seed: seed, logMutations: logMutations)
        case .splitMerge:
            return try SplitMergeMutator(
                plan: .init(pageCount: pageCount), seed: seed, mapFlags: mapFlags, logMutations: logMutations)
        case .resize:
            return try ResizeMutator(
                plan: .init(pageCount: pageCount), seed: seed, mapFlags: mapFlags, logMutations: logMutations)
        case .remap:
            return try RemapMutator(
                plan: .init(pageCount: pageCount), seed: seed, mapFlags: mapFlags, logMutations: logMutations)
        case .churn:
            return try ChurnMutator(
                plan: .init(pageCount: pageCount), seed: seed, mapFlags: mapFlags, logMutations: logMutations)
        }
    }
}

/// A workload's mutator: built (and everything it needs allocated and
/// touched) before the arena exists; `runSetup` and `runLoop` allocate
/// nothing.
protocol ArenaMutator: AnyObject {
    /// The mappings the loop starts from, made before the initial quiescent
    /// read. false if a mutation failed.
    func runSetup(on arena: Arena) -> Bool
    /// The loop the reader races. Stops early on SIGINT or SIGTERM (a plain
    /// load of the handler's flag per iteration) or a failed mutation.
    func runLoop(on arena: Arena)
    /// Mutations issued so far, setup included.
    var issued: Int { get }
    /// The first failed mutation, if any.
    var failure: MutationFailure? { get }
    /// The last logged mutation's end time (0 when nothing was logged).
    var lastMutationEnd: UInt64 { get }
    /// The logged mutations as trace records, sequence dense from 0.
    func mutationRecords(threadID: Int32) -> [MutationRecord]
}

/// A mutator that makes every call through one `MutationLog`.
protocol LoggingMutator: ArenaMutator {
    var log: MutationLog { get }
}

extension LoggingMutator {
    var issued: Int { log.issued }
    var failure: MutationFailure? { log.failure }
    var lastMutationEnd: UInt64 { log.lastMutationEnd }
    func mutationRecords(threadID: Int32) -> [MutationRecord] { log.records(threadID: threadID) }
}

/// `r--`-style names of PROT_* values for trace parameters.
func protectionName(_ prot: Int32) -> String {
    (prot & PROT_READ != 0 ? "r" : "-") + (prot & PROT_WRITE != 0 ? "w" : "-") + (prot & PROT_EXEC != 0 ? "x" : "-")
}
