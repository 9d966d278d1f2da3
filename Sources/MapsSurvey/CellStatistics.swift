import MapsAnalysis
import MapsTrace

// Aggregation: many analysed recordings of one workload × reader pair become
// one row of the survey table. Everything here is pure arithmetic on
// `AnalysisReport`s, so it is tested on reports built by hand.

/// One snapshot as the reader's user receives it.
///
/// For most readers that is every snapshot of the trace. A reader that
/// re-reads until two attempts agree (`retry-stable`) hands over only the
/// accepted attempt, and reading it cost every attempt before it.
public struct DeliveredSnapshot: Sendable, Equatable {
    /// The analysis of the snapshot the user gets.
    public var analysis: SnapshotAnalysis
    /// Time spent reading to deliver it: the snapshot's own duration, or the
    /// sum of the durations of all the attempts that led to it.
    public var readingNs: UInt64
    /// Whole reads of the maps it took (1 unless the reader retries).
    public var attempts: Int

    public init(analysis: SnapshotAnalysis, readingNs: UInt64, attempts: Int = 1) {
        self.analysis = analysis
        self.readingNs = readingNs
        self.attempts = attempts
    }
}

/// One recording that was made and analysed.
public struct AnalysedRecording: Sendable, Equatable {
    /// 0-based repeat number within its cell.
    public var repetition: Int
    public var trace: String
    public var seed: UInt64
    public var report: AnalysisReport
    /// A retrying reader's attempt limit (its `max_attempts` trace
    /// parameter): a run of that many attempts without an accepted one is a
    /// snapshot the reader gave up on. nil: no limit known.
    public var maxAttempts: Int?
    /// How long the target was stopped for each snapshot (readers that stop
    /// it, such as `frozen`); empty when the trace has no pause records.
    public var targetPausesNs: [UInt64]
    /// Snapshots after which the reader, not a retrying one, abandoned the
    /// read with an error (`valgrind`: its buffer filled; the real tool
    /// aborts there): indexes of snapshots that delivered nothing.
    public var abortedSnapshots: Set<Int>
    /// A real program's recorded requests against its tool's profile
    /// (`real-...` readers only).
    public var pattern: PatternVerdict?

    public init(
        repetition: Int = 0, trace: String, seed: UInt64, report: AnalysisReport,
        maxAttempts: Int? = nil, targetPausesNs: [UInt64] = [], abortedSnapshots: Set<Int> = [],
        pattern: PatternVerdict? = nil
    ) {
        self.abortedSnapshots = abortedSnapshots
        self.pattern = pattern
        self.repetition = repetition
        self.trace = trace
        self.seed = seed
        self.report = report
        self.maxAttempts = maxAttempts
        self.targetPausesNs = targetPausesNs
    }

    /// Some snapshot is one attempt of a reader that re-reads until two agree.
    public var readerRetries: Bool {
        report.snapshots.contains(where: \.retryAttempt)
    }

    /// What the reader handed to its user, and what it read for nothing.
    public struct Deliveries: Sendable, Equatable {
        /// The snapshots the user got, in trace order.
        public var delivered: [DeliveredSnapshot] = []
        /// Snapshots the reader gave up on: `maxAttempts` attempts in a row,
        /// none accepted.
        public var gaveUp = 0
        /// Attempts that delivered nothing: those of the snapshots given up
        /// on, and any after the last accepted one (the recording stopped).
        public var abandonedAttempts = 0
    }

    /// Every snapshot is delivered (but those the reader aborted: they count
    /// as given up on), except for a retrying reader: then each
    /// accepted attempt is delivered, charged with the attempts of its own
    /// round (since the previous accepted one or given-up round).
    public var deliveries: Deliveries {
        var result = Deliveries()
        guard readerRetries else {
            result.delivered = report.snapshots.filter { !abortedSnapshots.contains($0.index) }
                .map { DeliveredSnapshot(analysis: $0, readingNs: $0.durationNs) }
            result.gaveUp = report.snapshots.count - result.delivered.count
            return result
        }
        var roundNs: UInt64 = 0
        var roundAttempts = 0
        for snapshot in report.snapshots {
            roundNs += snapshot.durationNs
            roundAttempts += 1
            if snapshot.accepted {
                result.delivered.append(DeliveredSnapshot(analysis: snapshot, readingNs: roundNs, attempts: roundAttempts))
            } else if let maxAttempts, roundAttempts >= maxAttempts {
                result.gaveUp += 1
                result.abandonedAttempts += roundAttempts
            } else {
                continue
            }
            roundNs = 0
            roundAttempts = 0
        }
        result.abandonedAttempts += roundAttempts
        return result
    }

    public var delivered: [DeliveredSnapshot] { deliveries.delivered }
}

/// A recording that could not be made or analysed.
public struct FailedRecording: Sendable, Equatable, Codable {
    /// 0-based repeat number within its cell.
    public var repetition: Int
    public var seed: UInt64
    /// The trace path, when a (possibly partial) trace was written.
    public var trace: String?
    /// The exit code `mapsrace record` ended with, or the analysis failure's
    /// exit code (10-15).
    public var exitCode: Int32
    /// What went wrong, in the words of the failing stage.
    public var message: String

    public init(repetition: Int, seed: UInt64, trace: String?, exitCode: Int32, message: String) {
        self.repetition = repetition
        self.seed = seed
        self.trace = trace
        self.exitCode = exitCode
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case repetition, seed, trace
        case exitCode = "exit_code"
        case message
    }

    /// Written out so that `trace` is `null` when no trace was written, never
    /// left out (docs/survey.md); synthesized encoding would skip it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(repetition, forKey: .repetition)
        try container.encode(seed, forKey: .seed)
        try container.encode(trace, forKey: .trace)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(message, forKey: .message)
    }
}

/// Anomalies of each kind per 100 delivered snapshots.
public struct AnomalyRates: Sendable, Equatable, Codable {
    public var duplicated: Double
    public var missing: Double
    public var torn: Double
    public var intraRead: Double
    public var phantom: Double

    public init(counts: AnomalyTotals, snapshots: Int) {
        func per100(_ count: Int) -> Double { snapshots == 0 ? 0 : Double(count) * 100 / Double(snapshots) }
        duplicated = per100(counts.duplicated)
        missing = per100(counts.missing)
        torn = per100(counts.torn)
        intraRead = per100(counts.intraRead)
        phantom = per100(counts.phantom)
    }

    public subscript(kind: AnomalyKind) -> Double {
        switch kind {
        case .duplicated: duplicated
        case .missing: missing
        case .torn: torn
        case .intraRead: intraRead
        case .phantom: phantom
        }
    }

    enum CodingKeys: String, CodingKey {
        case duplicated, missing, torn
        case intraRead = "intra_read"
        case phantom
    }
}

/// One row of the survey table: every recording of one workload with one reader.
public struct SurveyCell: Sendable, Equatable {
    public var workload: String
    public var reader: String
    public var recordings: [AnalysedRecording]
    public var failures: [FailedRecording]

    public init(workload: String, reader: String, recordings: [AnalysedRecording] = [], failures: [FailedRecording] = []) {
        self.workload = workload
        self.reader = reader
        self.recordings = recordings
        self.failures = failures
    }

    public var statistics: CellStatistics { CellStatistics(self) }
}

/// The figures of one cell.
public struct CellStatistics: Sendable, Equatable {
    /// Recordings made and analysed, and those that failed.
    public var recordings: Int
    public var failedRecordings: Int
    /// Delivered snapshots over all recordings.
    public var deliveredSnapshots: Int
    /// Delivered snapshots that began after the mutator's last mutation had
    /// returned: nothing raced them, so they are left out of every figure
    /// below (a slow reader would otherwise look safe for being slow).
    public var quietSnapshots: Int
    /// The judged snapshots: delivered while the mutator ran. Every figure
    /// below is over them; `consistentSnapshots` are those one state
    /// explains entirely.
    public var snapshots: Int
    public var consistentSnapshots: Int
    /// nil when there is no snapshot to judge.
    public var consistentPercent: Double?
    public var anomalies: AnomalyTotals
    public var anomaliesPer100: AnomalyRates
    /// Delivered snapshots that broke "no two lines overlap" (a duplicated
    /// range or overlapping lines).
    public var noOverlapViolations: Int
    /// Delivered snapshots that broke "whatever was mapped throughout appears".
    public var completeCoverageViolations: Int
    /// Median time to read (deliver) one judged snapshot.
    public var medianSnapshotNs: UInt64?
    /// Median time the target was stopped, over every pause record; nil when
    /// no recording has pause records.
    public var medianTargetPauseNs: UInt64?
    /// Mean whole reads per judged snapshot (above 1 for retrying readers).
    public var attemptsPerSnapshot: Double?
    /// Snapshots a retrying reader gave up on (no two attempts agreed
    /// within its limit), and the attempts that delivered nothing.
    public var gaveUp: Int
    public var abandonedAttempts: Int
    /// Recordings whose replay did not reproduce the quiescent maps (their
    /// lines were judged page by page).
    public var unvalidatedRecordings: Int
    /// For a reader whose own check looks at the text (`crashpad`,
    /// `cpptrace`, `dynamorio`): snapshots read while the mutator ran,
    /// every attempt included, whose tear the check caught, and those whose
    /// tear it let through (`ValidationOutcome`). nil for other readers.
    public var validationCaught: Int?
    public var validationEscaped: Int?
    /// A real program's recorded requests against its tool's profile, over
    /// every recording of the cell (the first difference found); nil for
    /// built-in readers.
    public var pattern: PatternVerdict?

    /// The model was validated in every analysed recording (false when there is none).
    public var modelValidated: Bool { recordings > 0 && unvalidatedRecordings == 0 }

    public init(_ cell: SurveyCell) {
        let deliveries = cell.recordings.map(\.deliveries)
        let everyDelivered = deliveries.flatMap(\.delivered)
        let delivered = everyDelivered.filter { !$0.analysis.afterMutatorFinished }
        recordings = cell.recordings.count
        failedRecordings = cell.failures.count
        deliveredSnapshots = everyDelivered.count
        quietSnapshots = everyDelivered.count - delivered.count
        snapshots = delivered.count
        consistentSnapshots = delivered.filter(\.analysis.consistent).count
        consistentPercent = snapshots == 0 ? nil : Double(consistentSnapshots) * 100 / Double(snapshots)
        var counts = AnomalyTotals()
        var noOverlap = 0
        var coverage = 0
        for snapshot in delivered.map(\.analysis) {
            for anomaly in snapshot.anomalies { counts[anomaly.kind] += 1 }
            counts.unmodeled += snapshot.unmodeledLines.count
            // The analysis sets both from the snapshot's anomalies (and line order).
            if !snapshot.noOverlap { noOverlap += 1 }
            if !snapshot.completeCoverage { coverage += 1 }
        }
        anomalies = counts
        anomaliesPer100 = AnomalyRates(counts: counts, snapshots: delivered.count)
        noOverlapViolations = noOverlap
        completeCoverageViolations = coverage
        medianSnapshotNs = median(delivered.map(\.readingNs))
        medianTargetPauseNs = median(cell.recordings.flatMap(\.targetPausesNs))
        attemptsPerSnapshot = delivered.isEmpty
            ? nil : Double(delivered.reduce(0) { $0 + $1.attempts }) / Double(delivered.count)
        gaveUp = deliveries.reduce(0) { $0 + $1.gaveUp }
        abandonedAttempts = deliveries.reduce(0) { $0 + $1.abandonedAttempts }
        unvalidatedRecordings = cell.recordings.filter { !$0.report.modelValidated }.count
        let outcomes = cell.recordings.flatMap(\.report.snapshots)
            .filter { !$0.afterMutatorFinished }
            .compactMap(\.validation)
        let validates = cell.recordings.contains { $0.report.validation != nil }
        validationCaught = validates ? outcomes.filter { $0.verdict == "caught" }.count : nil
        validationEscaped = validates ? outcomes.filter { $0.verdict == "escaped" }.count : nil
        let verdicts = cell.recordings.compactMap(\.pattern)
        if var combined = verdicts.first {
            combined.snapshots = verdicts.reduce(0) { $0 + $1.snapshots }
            combined.reads = verdicts.reduce(0) { $0 + $1.reads }
            if let (recording, verdict) = zip(cell.recordings, cell.recordings.map(\.pattern))
                .first(where: { $0.1?.difference != nil })
            {
                combined.difference = "recording \(recording.repetition): " + (verdict?.difference ?? "")
            }
            pattern = combined
        }
    }
}

/// The median of `values`: the middle one, or the mean of the two middle
/// ones (rounded down) for an even count; nil when empty.
public func median(_ values: [UInt64]) -> UInt64? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let upper = sorted[sorted.count / 2]
    guard sorted.count % 2 == 0 else { return upper }
    let lower = sorted[sorted.count / 2 - 1]
    return lower + (upper - lower) / 2
}
