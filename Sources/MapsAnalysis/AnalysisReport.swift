import MapsModel
import MapsTrace

// The analysis as data. These types are what `mapsrace analyze --json`
// prints; docs/analysis-json.md is their contract.

/// What went wrong at one place in one snapshot.
public enum AnomalyKind: String, Codable, Sendable, CaseIterable, Comparable {
    /// An address range reported by two lines.
    case duplicated
    /// A range mapped during the whole snapshot but in no line.
    case missing
    /// Lines from different epochs that never coexisted.
    case torn
    /// An epoch break inside one read(2): that read was not produced at one instant.
    case intraRead = "intra_read"
    /// A line that no state in its window explains.
    case phantom

    public static func < (lhs: AnomalyKind, rhs: AnomalyKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where in a snapshot an anomaly happened: the gap between two reads.
public struct Boundary: Codable, Sendable, Equatable {
    /// The read before the gap (equal to `afterRead` for an intra-read break
    /// or a phantom line).
    public var beforeRead: Int
    /// The read that produced the first line after the gap.
    public var afterRead: Int
    /// Byte offset in the snapshot: where `afterRead` started (for an
    /// intra-read break or a phantom: where the line starts).
    public var byteOffset: UInt64
    /// 1-based number of the first line after the gap.
    public var line: Int

    public init(beforeRead: Int, afterRead: Int, byteOffset: UInt64, line: Int) {
        self.beforeRead = beforeRead
        self.afterRead = afterRead
        self.byteOffset = byteOffset
        self.line = line
    }

    enum CodingKeys: String, CodingKey {
        case beforeRead = "before_read"
        case afterRead = "after_read"
        case byteOffset = "byte_offset"
        case line
    }
}

/// One mutation named as a cause.
public struct Culprit: Codable, Sendable, Equatable {
    public var sequence: UInt64
    public var kind: String
    /// Nanoseconds from the trace's start to the mutation's t_begin.
    public var timeNs: Int64
    public var address: String
    public var length: UInt64
    public var prot: String

    enum CodingKeys: String, CodingKey {
        case sequence, kind
        case timeNs = "time_ns"
        case address, length, prot
    }
}

public struct Anomaly: Codable, Sendable, Equatable {
    public var kind: AnomalyKind
    public var boundary: Boundary
    /// The address range involved (`0x…`).
    public var start: String
    public var end: String
    /// Sequence numbers of the mutations that caused it.
    public var culprits: [UInt64]
    public var culpritDetails: [Culprit]
    /// One sentence for people.
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case kind, boundary, start, end, culprits
        case culpritDetails = "culprit_details"
        case detail
    }
}

/// A run of consecutive arena lines that one state explains.
public struct Epoch: Codable, Sendable, Equatable {
    /// 1-based line numbers in the snapshot.
    public var firstLine: Int
    public var lastLine: Int
    public var firstRead: Int
    public var lastRead: Int
    /// The states that explain every line of the epoch.
    public var stateMin: Int
    public var stateMax: Int

    enum CodingKeys: String, CodingKey {
        case firstLine = "first_line"
        case lastLine = "last_line"
        case firstRead = "first_read"
        case lastRead = "last_read"
        case stateMin = "state_min"
        case stateMax = "state_max"
    }
}

/// A line outside the arena that matches neither quiescent read.
public struct UnmodeledLine: Codable, Sendable, Equatable {
    public var line: Int
    public var text: String
}

public struct SnapshotAnalysis: Codable, Sendable, Equatable {
    public var index: Int
    public var lines: Int
    public var arenaLines: Int
    public var reads: Int
    public var bytes: UInt64
    /// One state explains every arena line and the lines cover exactly what
    /// that state had mapped.
    public var consistent: Bool
    /// A state that explains the whole snapshot, when it is consistent.
    public var explainingState: Int?
    public var epochs: Int
    public var epochList: [Epoch]
    /// The snapshot began after the last mutation returned.
    public var afterMutatorFinished: Bool
    /// The reader reached end of file.
    public var complete: Bool
    /// One attempt of a `retry-stable` reader, and whether it was the one
    /// accepted (identical to the attempt before it).
    public var retryAttempt: Bool = false
    public var accepted: Bool = false
    /// How long the reader held the target stopped for this snapshot
    /// (`frozen` reader), ns; nil for readers that do not stop it.
    public var pauseNs: UInt64? = nil
    /// What a validating reader's own check did with this snapshot and
    /// whether it caught the tear (`ValidationJudge`); nil, and left out of
    /// the JSON, for readers whose check does not look at the text.
    public var validation: ValidationOutcome? = nil
    /// States possible while the snapshot was read (first read's begin to
    /// last read's end).
    public var stateLo: Int
    public var stateHi: Int
    public var durationNs: UInt64
    public var rwPagesObserved: Int
    public var rwPagesTruthMin: Int
    public var rwPagesTruthMax: Int
    public var anomalies: [Anomaly]
    public var unmodeledLines: [UnmodeledLine]
    /// Kernel guarantee (1): no two lines overlap.
    public var noOverlap: Bool
    /// Kernel guarantee (2): whatever was mapped throughout appears.
    public var completeCoverage: Bool
    /// A traced recording (`record -- CMD`): the snapshot judged against the
    /// whole address space it read (left out of the JSON otherwise).
    public var wholeSpace: WholeSpaceVerdict? = nil

    enum CodingKeys: String, CodingKey {
        case index, lines
        case arenaLines = "arena_lines"
        case reads, bytes, consistent
        case explainingState = "explaining_state"
        case epochs
        case epochList = "epoch_list"
        case afterMutatorFinished = "after_mutator_finished"
        case complete
        case retryAttempt = "retry_attempt"
        case accepted
        case pauseNs = "pause_ns"
        case stateLo = "state_lo"
        case stateHi = "state_hi"
        case durationNs = "duration_ns"
        case rwPagesObserved = "rw_pages_observed"
        case rwPagesTruthMin = "rw_pages_truth_min"
        case rwPagesTruthMax = "rw_pages_truth_max"
        case anomalies
        case unmodeledLines = "unmodeled_lines"
        case noOverlap = "no_overlap"
        case completeCoverage = "complete_coverage"
        case validation
        case wholeSpace = "whole_space"
    }

    /// Written out so that `explaining_state` and `pause_ns` are `null` when
    /// absent, never left out (docs/analysis-json.md); synthesized encoding
    /// would skip them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(lines, forKey: .lines)
        try container.encode(arenaLines, forKey: .arenaLines)
        try container.encode(reads, forKey: .reads)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(consistent, forKey: .consistent)
        try container.encode(explainingState, forKey: .explainingState)
        try container.encode(epochs, forKey: .epochs)
        try container.encode(epochList, forKey: .epochList)
        try container.encode(afterMutatorFinished, forKey: .afterMutatorFinished)
        try container.encode(complete, forKey: .complete)
        try container.encode(retryAttempt, forKey: .retryAttempt)
        try container.encode(accepted, forKey: .accepted)
        try container.encode(pauseNs, forKey: .pauseNs)
        try container.encode(stateLo, forKey: .stateLo)
        try container.encode(stateHi, forKey: .stateHi)
        try container.encode(durationNs, forKey: .durationNs)
        try container.encode(rwPagesObserved, forKey: .rwPagesObserved)
        try container.encode(rwPagesTruthMin, forKey: .rwPagesTruthMin)
        try container.encode(rwPagesTruthMax, forKey: .rwPagesTruthMax)
        try container.encode(anomalies, forKey: .anomalies)
        try container.encode(unmodeledLines, forKey: .unmodeledLines)
        try container.encode(noOverlap, forKey: .noOverlap)
        try container.encode(completeCoverage, forKey: .completeCoverage)
        try container.encodeIfPresent(validation, forKey: .validation)
        try container.encodeIfPresent(wholeSpace, forKey: .wholeSpace)
    }
}

/// The kernel's documented promises, checked on this trace.
public struct GuaranteeCheck: Codable, Sendable, Equatable {
    public var holds: Bool
    public var violations: Int
    /// Indexes of the snapshots that broke it.
    public var snapshots: [Int]
}

public struct Guarantees: Codable, Sendable, Equatable {
    public var kernelRelease: String
    /// (1) "the mapped addresses never go backwards, which implies no two
    /// regions will ever overlap" (proc.rst).
    public var noOverlap: GuaranteeCheck
    /// (2) whatever was mapped during the whole walk appears in it.
    public var completeCoverage: GuaranteeCheck

    enum CodingKeys: String, CodingKey {
        case kernelRelease = "kernel_release"
        case noOverlap = "no_overlap"
        case completeCoverage = "complete_coverage"
    }
}

/// Whether replaying the mutations reproduces the real maps.
public struct ModelCheck: Codable, Sendable, Equatable {
    public var validated: Bool
    /// `exact` (whole lines) when validated, `page_level` otherwise.
    public var match: String
    public var initialMismatches: Int
    public var finalMismatches: Int
    /// Up to a few differing lines, `model: …` / `maps: …`.
    public var examples: [String]
    public var unmodeledMutations: Int
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case validated, match
        case initialMismatches = "initial_mismatches"
        case finalMismatches = "final_mismatches"
        case examples
        case unmodeledMutations = "unmodeled_mutations"
        case detail
    }
}

public struct AnomalyTotals: Codable, Sendable, Equatable {
    public var duplicated = 0
    public var missing = 0
    public var torn = 0
    public var intraRead = 0
    public var phantom = 0
    /// Lines outside the arena that match no quiescent read (not race anomalies).
    public var unmodeled = 0

    public init() {}

    public var raceAnomalies: Int { duplicated + missing + torn + intraRead + phantom }

    public subscript(kind: AnomalyKind) -> Int {
        get {
            switch kind {
            case .duplicated: duplicated
            case .missing: missing
            case .torn: torn
            case .intraRead: intraRead
            case .phantom: phantom
            }
        }
        set {
            switch kind {
            case .duplicated: duplicated = newValue
            case .missing: missing = newValue
            case .torn: torn = newValue
            case .intraRead: intraRead = newValue
            case .phantom: phantom = newValue
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case duplicated, missing, torn
        case intraRead = "intra_read"
        case phantom, unmodeled
    }
}

/// The whole analysis of one trace.
public struct AnalysisReport: Codable, Sendable, Equatable {
    public var trace: String
    public var kernelRelease: String
    public var workload: String
    public var reader: String
    public var pages: Int?
    public var seed: UInt64
    public var arenaStart: String
    public var arenaEnd: String
    public var mutations: Int
    /// The trace was read to its trailer (false: truncated or cut short).
    public var traceComplete: Bool
    public var interrupted: Bool
    public var modelValidated: Bool
    public var model: ModelCheck
    public var snapshotCount: Int
    public var consistentSnapshots: Int
    public var snapshots: [SnapshotAnalysis]
    public var guarantees: Guarantees
    public var totals: AnomalyTotals
    /// caught / escaped counts of a validating reader (left out otherwise).
    public var validation: ValidationTotals? = nil
    /// A traced recording (`record -- CMD`): each traced address space's
    /// whole-address-space model (left out of the JSON otherwise).
    public var addressSpaces: [AddressSpaceReport]? = nil

    enum CodingKeys: String, CodingKey {
        case trace
        case kernelRelease = "kernel_release"
        case workload, reader, pages, seed
        case arenaStart = "arena_start"
        case arenaEnd = "arena_end"
        case mutations
        case traceComplete = "trace_complete"
        case interrupted
        case modelValidated = "model_validated"
        case model
        case snapshotCount = "snapshot_count"
        case consistentSnapshots = "consistent_snapshots"
        case snapshots, guarantees, totals, validation
        case addressSpaces = "address_spaces"
    }

    /// Written out so that `pages` is `null` when absent, never left out
    /// (docs/analysis-json.md); synthesized encoding would skip it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(trace, forKey: .trace)
        try container.encode(kernelRelease, forKey: .kernelRelease)
        try container.encode(workload, forKey: .workload)
        try container.encode(reader, forKey: .reader)
        try container.encode(pages, forKey: .pages)
        try container.encode(seed, forKey: .seed)
        try container.encode(arenaStart, forKey: .arenaStart)
        try container.encode(arenaEnd, forKey: .arenaEnd)
        try container.encode(mutations, forKey: .mutations)
        try container.encode(traceComplete, forKey: .traceComplete)
        try container.encode(interrupted, forKey: .interrupted)
        try container.encode(modelValidated, forKey: .modelValidated)
        try container.encode(model, forKey: .model)
        try container.encode(snapshotCount, forKey: .snapshotCount)
        try container.encode(consistentSnapshots, forKey: .consistentSnapshots)
        try container.encode(snapshots, forKey: .snapshots)
        try container.encode(guarantees, forKey: .guarantees)
        try container.encode(totals, forKey: .totals)
        try container.encodeIfPresent(validation, forKey: .validation)
        try container.encodeIfPresent(addressSpaces, forKey: .addressSpaces)
    }
}
