import MapsSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The parts of a survey's JSON (docs/survey.md) the report shows.
public struct SurveyOverview: Decodable, Sendable {
    public struct Cell: Decodable, Sendable {
        public struct Rates: Decodable, Sendable {
            public var duplicated: Double
            public var missing: Double
            public var torn: Double
            public var intraRead: Double
            public var phantom: Double

            enum CodingKeys: String, CodingKey {
                case duplicated, missing, torn
                case intraRead = "intra_read"
                case phantom
            }
        }

        public struct Recording: Decodable, Sendable {
            public var repetition: Int
            public var trace: String
        }

        public struct Failure: Decodable, Sendable {
            public var repetition: Int
            public var message: String
        }

        public var workload: String
        public var reader: String
        public var recordings: Int
        public var snapshots: Int
        public var consistentPercent: Double?
        public var anomaliesPer100: Rates
        public var noOverlapViolations: Int
        public var completeCoverageViolations: Int
        public var medianSnapshotNs: UInt64?
        public var modelValidated: Bool
        public var traces: [Recording]
        public var failures: [Failure]

        enum CodingKeys: String, CodingKey {
            case workload, reader, recordings, snapshots
            case consistentPercent = "consistent_percent"
            case anomaliesPer100 = "anomalies_per_100"
            case noOverlapViolations = "no_overlap_violations"
            case completeCoverageViolations = "complete_coverage_violations"
            case medianSnapshotNs = "median_snapshot_ns"
            case modelValidated = "model_validated"
            case traces, failures
        }
    }

    public var kernelRelease: String
    public var machine: String
    public var directory: String
    public var command: String
    public var cells: [Cell]

    enum CodingKeys: String, CodingKey {
        case kernelRelease = "kernel_release"
        case machine, directory, command, cells
    }

    /// Reads `path`; trace paths in it are taken relative to its directory
    /// when they are not found as written.
    public static func load(path: String) throws(ReportError) -> SurveyOverview {
        let bytes = try readFile(path)
        do {
            return try JSONDecoder().decode(SurveyOverview.self, from: Data(bytes))
        } catch {
            throw .unreadableSurvey(path, reason: "it is not a survey's JSON (docs/survey.md): \(error)")
        }
    }
}

/// Why a report or an export could not be made.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    case unreadableSurvey(String, reason: String)
    case unwritable(String, Errno)

    public var description: String {
        switch self {
        case .unreadableSurvey(let path, let reason): "\(path): cannot use the survey: \(reason)"
        case .unwritable(let path, let code): "\(path): cannot write: \(code.text)"
        }
    }
}

func readFile(_ path: String) throws(ReportError) -> [UInt8] {
    switch readWholeFile(path) {
    case .success(let bytes): return bytes
    case .failure(let code): throw .unreadableSurvey(path, reason: code.text)
    }
}

/// Writes `bytes` to `path` (`-`: standard output): into a temporary file
/// beside it, renamed over it when complete, so a failed write never leaves
/// half a page.
public func writeOutput(_ bytes: [UInt8], to path: String) throws(ReportError) {
    if path == "-" {
        if case .failure(let code) = bytes.withUnsafeBytes({ writeAll(STDOUT_FILENO, $0) }) {
            throw .unwritable("standard output", code)
        }
        return
    }
    let temporary = path + ".partial"
    if case .failure(let code) = writeWholeFile(temporary, bytes) {
        unlink(temporary)
        throw .unwritable(path, code)
    }
    if case .failure(let code) = checkedCall({ rename(temporary, path) }) {
        unlink(temporary)
        throw .unwritable(path, code)
    }
}
