// JSONEncoder without the rest of Foundation (and its ICU start-up cost).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MapsAnalysis
import MapsTrace

/// Renders a survey: an aligned table for people, a Markdown table for the
/// README, and the JSON document described in docs/survey.md.
public enum SurveyTable {
    // MARK: Columns

    /// One column of the table: its heading, whether it holds numbers (right
    /// aligned), and its text for a cell.
    struct Column: Sendable {
        var heading: String
        var numeric: Bool
        var value: @Sendable (SurveyCell, CellStatistics) -> String
    }

    static let columns: [Column] = [
        Column(heading: "workload", numeric: false) { cell, _ in cell.workload },
        Column(heading: "reader", numeric: false) { cell, _ in cell.reader },
        Column(heading: "consistent", numeric: true) { _, stats in
            stats.consistentPercent.map { fixed($0, digits: 1) + "%" } ?? "-"
        },
        Column(heading: "dup/100", numeric: true) { _, stats in rate(stats, .duplicated) },
        Column(heading: "miss/100", numeric: true) { _, stats in rate(stats, .missing) },
        Column(heading: "torn/100", numeric: true) { _, stats in rate(stats, .torn) },
        Column(heading: "intra/100", numeric: true) { _, stats in rate(stats, .intraRead) },
        Column(heading: "phantom/100", numeric: true) { _, stats in rate(stats, .phantom) },
        Column(heading: "overlap", numeric: true) { _, stats in
            stats.snapshots == 0 ? "-" : "\(stats.noOverlapViolations)/\(stats.snapshots)"
        },
        Column(heading: "coverage", numeric: true) { _, stats in
            stats.snapshots == 0 ? "-" : "\(stats.completeCoverageViolations)/\(stats.snapshots)"
        },
        Column(heading: "read time", numeric: true) { _, stats in stats.medianSnapshotNs.map(duration) ?? "-" },
        Column(heading: "pause", numeric: true) { _, stats in stats.medianTargetPauseNs.map(duration) ?? "-" },
        Column(heading: "caught/escaped", numeric: true) { _, stats in
            guard let caught = stats.validationCaught, let escaped = stats.validationEscaped else { return "-" }
            return "\(caught)/\(escaped)"
        },
        Column(heading: "vs profile", numeric: false) { _, stats in
            guard let pattern = stats.pattern else { return "-" }
            return pattern.profile + ": " + pattern.summary
        },
        Column(heading: "model", numeric: false) { cell, stats in
            if stats.recordings == 0 { return "-" }
            return stats.modelValidated ? "ok" : "NOT \(stats.unvalidatedRecordings)/\(stats.recordings)"
        },
        Column(heading: "notes", numeric: false) { cell, stats in notes(cell, stats) },
    ]

    static func rate(_ stats: CellStatistics, _ kind: AnomalyKind) -> String {
        stats.snapshots == 0 ? "-" : fixed(stats.anomaliesPer100[kind], digits: 1)
    }

    /// Failures, retries and anything else a number cannot say.
    static func notes(_ cell: SurveyCell, _ stats: CellStatistics) -> String {
        var notes: [String] = []
        if !cell.failures.isEmpty {
            var messages: [String] = []
            for failure in cell.failures where !messages.contains(failure.message) { messages.append(failure.message) }
            let total = cell.failures.count + cell.recordings.count
            notes.append("FAILED \(cell.failures.count)/\(total): " + messages.joined(separator: "; "))
        }
        if stats.quietSnapshots > 0 {
            notes.append("\(stats.quietSnapshots) of \(stats.deliveredSnapshots) read after the mutator finished (not judged)")
        }
        if let attempts = stats.attemptsPerSnapshot, attempts > 1 {
            notes.append(fixed(attempts, digits: 2) + " attempts/snapshot")
        }
        if stats.gaveUp > 0 {
            notes.append("gave up on \(stats.gaveUp) snapshot(s)")
        }
        if stats.abandonedAttempts > 0 {
            notes.append("\(stats.abandonedAttempts) attempts delivered nothing")
        }
        if cell.failures.isEmpty && stats.recordings == 0 { notes.append("not recorded (interrupted)") }
        return notes.joined(separator: "; ")
    }

    static func rows(_ result: SurveyResult) -> [[String]] {
        result.cells.map { cell in
            let stats = cell.statistics
            return columns.map { $0.value(cell, stats) }
        }
    }

    // MARK: Text for people

    public static func human(_ result: SurveyResult) -> String {
        var out = headline(result) + "\n\n"
        let table = [columns.map(\.heading)] + rows(result)
        let widths = columns.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            var line = ""
            for (index, column) in columns.enumerated() {
                let text = row[index]
                let padding = String(repeating: " ", count: widths[index] - text.count)
                let last = index == columns.count - 1
                line += column.numeric ? padding + text : text + (last ? "" : padding)
                if !last { line += "  " }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        out += "\n" + legend + "\n"
        if result.interrupted {
            out += "Interrupted by signal \(result.signal): the table holds what was recorded before it.\n"
        }
        return out
    }

    // MARK: Markdown

    public static func markdown(_ result: SurveyResult) -> String {
        var out = headline(result) + "\n\n"
        out += "| " + columns.map(\.heading).joined(separator: " | ") + " |\n"
        out += "|" + columns.map { $0.numeric ? "---:|" : "---|" }.joined() + "\n"
        for row in rows(result) {
            out += "| " + row.map { $0.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }.joined(separator: " | ") + " |\n"
        }
        out += "\n" + legend + "\n\nRegenerate with `\(result.plan.regeneratingCommand)`.\n"
        if result.interrupted {
            out += "\nInterrupted by signal \(result.signal): the table holds what was recorded before it.\n"
        }
        return out
    }

    static func headline(_ result: SurveyResult) -> String {
        let plan = result.plan
        let seeds = plan.repetitions == 1 ? "seed \(plan.seed)" : "seeds \(plan.seed)-\(plan.seed(forRepetition: plan.repetitions - 1))"
        return "Survey on Linux \(result.kernelRelease) (\(result.machine)): \(plan.repetitions) recording(s) per cell, "
            + "\(plan.pageCount) pages, \(plan.snapshotCount) snapshots each, \(seeds)."
    }

    static let legend = """
        Judged: snapshots delivered while the mutator ran. \
        consistent: judged snapshots one state explains; dup, miss, torn, intra, phantom: anomalies per 100 snapshots; \
        overlap, coverage: snapshots breaking the kernel's no-overlap and complete-coverage guarantees; \
        read time: median time to read one snapshot (every attempt, for retrying readers); \
        pause: median time the target was stopped; model: replay validated against the quiescent maps in every recording.
        """

    // MARK: JSON

    public static func json(_ result: SurveyResult) -> String {
        JSONOutput.text(SurveyDocument(result))
    }

    // MARK: Number formatting

    /// `value` with exactly `digits` decimals.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.description }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return value.description }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        let fraction = String(units % UInt64(scale))
        let sign = value < 0 && units > 0 ? "-" : ""
        guard digits > 0 else { return "\(sign)\(whole)" }
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// `850 µs`, `1.24 ms`, `2.50 s`.
    static func duration(_ nanoseconds: UInt64) -> String {
        if nanoseconds < 1_000_000 { return "\((nanoseconds + 500) / 1000) µs" }
        if nanoseconds < 1_000_000_000 { return fixed(Double(nanoseconds) / 1e6, digits: 2) + " ms" }
        return fixed(Double(nanoseconds) / 1e9, digits: 2) + " s"
    }
}

// MARK: - The JSON document (docs/survey.md)

struct SurveyDocument: Encodable {
    struct Parameters: Encodable {
        var workloads: [String]
        var readers: [String]
        var `repeat`: Int
        var pages: Int
        var snapshots: Int
        var seed: UInt64
    }

    struct Recording: Encodable {
        var repetition: Int
        var seed: UInt64
        var trace: String
        var snapshots: Int
        var consistentSnapshots: Int
        var deliveredSnapshots: Int
        var modelValidated: Bool
        var traceComplete: Bool

        enum CodingKeys: String, CodingKey {
            case repetition, seed, trace, snapshots
            case consistentSnapshots = "consistent_snapshots"
            case deliveredSnapshots = "delivered_snapshots"
            case modelValidated = "model_validated"
            case traceComplete = "trace_complete"
        }
    }

    /// `request_pattern`: a real program's requests against its tool's profile.
    struct RequestPattern: Encodable {
        var profile: String
        var matches: Bool
        var difference: String?
        var snapshots: Int
        var reads: Int
        var firstRequests: [UInt64]

        init(_ verdict: PatternVerdict) {
            profile = verdict.profile
            matches = verdict.matches
            difference = verdict.difference
            snapshots = verdict.snapshots
            reads = verdict.reads
            firstRequests = verdict.firstRequests
        }

        enum CodingKeys: String, CodingKey {
            case profile, matches, difference, snapshots, reads
            case firstRequests = "first_requests"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(profile, forKey: .profile)
            try container.encode(matches, forKey: .matches)
            try container.encode(difference, forKey: .difference)
            try container.encode(snapshots, forKey: .snapshots)
            try container.encode(reads, forKey: .reads)
            try container.encode(firstRequests, forKey: .firstRequests)
        }
    }

    struct Cell: Encodable {
        var workload: String
        var reader: String
        var recordings: Int
        var failedRecordings: Int
        var deliveredSnapshots: Int
        var quietSnapshots: Int
        var snapshots: Int
        var consistentSnapshots: Int
        var consistentPercent: Double?
        var anomalies: AnomalyTotals
        var anomaliesPer100: AnomalyRates
        var noOverlapViolations: Int
        var completeCoverageViolations: Int
        var medianSnapshotNs: UInt64?
        var medianTargetPauseNs: UInt64?
        var attemptsPerSnapshot: Double?
        var gaveUp: Int
        var abandonedAttempts: Int
        var modelValidated: Bool
        var unvalidatedRecordings: Int
        var validationCaught: Int?
        var validationEscaped: Int?
        var requestPattern: RequestPattern?
        var traces: [Recording]
        var failures: [FailedRecording]

        enum CodingKeys: String, CodingKey {
            case workload, reader, recordings
            case failedRecordings = "failed_recordings"
            case deliveredSnapshots = "delivered_snapshots"
            case quietSnapshots = "quiet_snapshots"
            case snapshots
            case consistentSnapshots = "consistent_snapshots"
            case consistentPercent = "consistent_percent"
            case anomalies
            case anomaliesPer100 = "anomalies_per_100"
            case noOverlapViolations = "no_overlap_violations"
            case completeCoverageViolations = "complete_coverage_violations"
            case medianSnapshotNs = "median_snapshot_ns"
            case medianTargetPauseNs = "median_target_pause_ns"
            case attemptsPerSnapshot = "attempts_per_snapshot"
            case gaveUp = "gave_up"
            case abandonedAttempts = "abandoned_attempts"
            case modelValidated = "model_validated"
            case unvalidatedRecordings = "unvalidated_recordings"
            case validationCaught = "validation_caught"
            case validationEscaped = "validation_escaped"
            case requestPattern = "request_pattern"
            case traces, failures
        }

        /// Optionals as `null` rather than left out, so every key is always there.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(workload, forKey: .workload)
            try container.encode(reader, forKey: .reader)
            try container.encode(recordings, forKey: .recordings)
            try container.encode(failedRecordings, forKey: .failedRecordings)
            try container.encode(deliveredSnapshots, forKey: .deliveredSnapshots)
            try container.encode(quietSnapshots, forKey: .quietSnapshots)
            try container.encode(snapshots, forKey: .snapshots)
            try container.encode(consistentSnapshots, forKey: .consistentSnapshots)
            try container.encode(consistentPercent, forKey: .consistentPercent)
            try container.encode(anomalies, forKey: .anomalies)
            try container.encode(anomaliesPer100, forKey: .anomaliesPer100)
            try container.encode(noOverlapViolations, forKey: .noOverlapViolations)
            try container.encode(completeCoverageViolations, forKey: .completeCoverageViolations)
            try container.encode(medianSnapshotNs, forKey: .medianSnapshotNs)
            try container.encode(medianTargetPauseNs, forKey: .medianTargetPauseNs)
            try container.encode(attemptsPerSnapshot, forKey: .attemptsPerSnapshot)
            try container.encode(gaveUp, forKey: .gaveUp)
            try container.encode(abandonedAttempts, forKey: .abandonedAttempts)
            try container.encode(modelValidated, forKey: .modelValidated)
            try container.encode(unvalidatedRecordings, forKey: .unvalidatedRecordings)
            try container.encode(validationCaught, forKey: .validationCaught)
            try container.encode(validationEscaped, forKey: .validationEscaped)
            try container.encode(requestPattern, forKey: .requestPattern)
            try container.encode(traces, forKey: .traces)
            try container.encode(failures, forKey: .failures)
        }
    }

    var toolVersion: String
    var kernelRelease: String
    var machine: String
    var directory: String
    var command: String
    var startWallClockNs: Int64
    var elapsedNs: UInt64
    var interrupted: Bool
    var signal: Int32
    var parameters: Parameters
    var cells: [Cell]

    enum CodingKeys: String, CodingKey {
        case toolVersion = "tool_version"
        case kernelRelease = "kernel_release"
        case machine, directory, command
        case startWallClockNs = "start_wall_clock_ns"
        case elapsedNs = "elapsed_ns"
        case interrupted, signal, parameters, cells
    }

    init(_ result: SurveyResult) {
        let plan = result.plan
        toolVersion = plan.toolVersion
        kernelRelease = result.kernelRelease
        machine = result.machine
        directory = plan.directory
        command = plan.regeneratingCommand
        startWallClockNs = result.startWallClockNs
        elapsedNs = result.elapsedNs
        interrupted = result.interrupted
        signal = result.signal
        parameters = Parameters(
            workloads: plan.workloads, readers: plan.readers, repeat: plan.repetitions,
            pages: plan.pageCount, snapshots: plan.snapshotCount, seed: plan.seed)
        cells = result.cells.map { cell in
            let stats = cell.statistics
            return Cell(
                workload: cell.workload, reader: cell.reader, recordings: stats.recordings,
                failedRecordings: stats.failedRecordings, deliveredSnapshots: stats.deliveredSnapshots,
                quietSnapshots: stats.quietSnapshots, snapshots: stats.snapshots,
                consistentSnapshots: stats.consistentSnapshots, consistentPercent: stats.consistentPercent,
                anomalies: stats.anomalies, anomaliesPer100: stats.anomaliesPer100,
                noOverlapViolations: stats.noOverlapViolations,
                completeCoverageViolations: stats.completeCoverageViolations,
                medianSnapshotNs: stats.medianSnapshotNs, medianTargetPauseNs: stats.medianTargetPauseNs,
                attemptsPerSnapshot: stats.attemptsPerSnapshot, gaveUp: stats.gaveUp,
                abandonedAttempts: stats.abandonedAttempts,
                modelValidated: stats.modelValidated, unvalidatedRecordings: stats.unvalidatedRecordings,
                validationCaught: stats.validationCaught, validationEscaped: stats.validationEscaped,
                requestPattern: stats.pattern.map(RequestPattern.init),
                traces: cell.recordings.map { recording in
                    Recording(
                        repetition: recording.repetition, seed: recording.seed,
                        trace: recording.trace, snapshots: recording.report.snapshotCount,
                        consistentSnapshots: recording.report.consistentSnapshots,
                        deliveredSnapshots: recording.delivered.count,
                        modelValidated: recording.report.modelValidated,
                        traceComplete: recording.report.traceComplete)
                },
                failures: cell.failures)
        }
    }
}
