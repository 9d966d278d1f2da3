import MapsTrace

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
public enum ReportError: MapsRaceFailure, Equatable {
    case unreadableSurvey(String, reason: String)
    case unwritable(String, errno: Int32)

    public var exitCode: Int32 {
        switch self {
        case .unreadableSurvey: 10
        case .unwritable: 22
        }
    }

    public var description: String {
        switch self {
        case .unreadableSurvey(let path, let reason): "\(path): cannot use the survey: \(reason)"
        case .unwritable(let path, let code): "\(path): cannot write: \(String(cString: strerror(code)))"
        }
    }
}

func readFile(_ path: String) throws(ReportError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw .unreadableSurvey(path, reason: String(cString: strerror(errno)))
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { throw .unreadableSurvey(path, reason: String(cString: strerror(errno))) }
        if count == 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
        if bytes.count > 256 << 20 { throw .unreadableSurvey(path, reason: "larger than 256 MiB") }
    }
    return bytes
}

/// Writes `bytes` to `path` (`-`: standard output): into a temporary file
/// beside it, renamed over it when complete, so a failed write never leaves
/// half a page.
public func writeOutput(_ bytes: [UInt8], to path: String) throws(ReportError) {
    func writeAll(_ descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return errno == 0 ? EIO : errno }
            offset += written
        }
        return nil
    }
    if path == "-" {
        if let code = writeAll(STDOUT_FILENO) { throw .unwritable("standard output", errno: code) }
        return
    }
    let temporary = path + ".partial"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .unwritable(path, errno: errno) }
    if let code = writeAll(descriptor) {
        close(descriptor)
        unlink(temporary)
        throw .unwritable(path, errno: code)
    }
    if close(descriptor) != 0 {
        let code = errno
        unlink(temporary)
        throw .unwritable(path, errno: code)
    }
    if rename(temporary, path) != 0 {
        let code = errno
        unlink(temporary)
        throw .unwritable(path, errno: code)
    }
}
