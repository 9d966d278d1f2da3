import MapsTrace

/// The kernels table: one row per kernel × workload × reader, this
/// machine's rows first, with each kernel's timing scale; as Markdown (the
/// README's form) and as JSON (docs/kernels.md).
public enum KernelsTable {
    public static func markdown(_ result: KernelsResult) -> String {
        var out = "| kernel | PROCMAP_QUERY | run time | ns/mutation | scale vs host | status |\n"
        out += "|---|---|---|---|---|---|\n"
        for row in result.rows {
            let status = row.failure.map { "FAILED: " + escape($0) } ?? "ok"
            out += "| \(label(row)) | \(row.procmapQuery.map { $0 ? "yes" : "no" } ?? "-") | \(seconds(row.elapsedNs)) | "
            out += "\(row.nsPerMutation.map(String.init) ?? "-") | \(result.timingScale(row).map { fixed($0, 2) + "x" } ?? "-") | \(status) |\n"
        }
        out += "\n| kernel | workload | reader | snapshots | consistent | dup/100 | intra/100 | miss/100 | torn/100 | overlap | ns/mutation | notes |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for row in result.rows {
            for cell in row.cells {
                let notes = cell.failures.isEmpty
                    ? "" : "FAILED \(cell.failedRecordings): " + cell.failures.map(escape).joined(separator: "; ")
                out += "| \(label(row)) | \(cell.workload) | \(cell.reader) | \(cell.snapshots) | "
                out += "\(cell.consistentPercent.map { fixed($0, 1) + "%" } ?? "-") | "
                out += "\(fixed(cell.duplicatedPer100, 1)) | \(fixed(cell.intraReadPer100, 1)) | "
                out += "\(fixed(cell.missingPer100, 1)) | \(fixed(cell.tornPer100, 1)) | \(cell.noOverlapViolations) | "
                out += "\(cell.nsPerMutation.map(String.init) ?? "-") | \(notes) |\n"
            }
        }
        return out
    }

    static func label(_ row: KernelRow) -> String {
        let release = row.release ?? row.requested
        return row.isHost ? "\(release) (host)" : release
    }

    static func escape(_ text: String) -> String {
        text.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
    }

    static func seconds(_ ns: UInt64) -> String { fixed(Double(ns) / 1e9, 1) + " s" }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.description }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let units = UInt64((abs(value) * scale).rounded())
        let whole = units / UInt64(scale)
        let fraction = String(units % UInt64(scale))
        let sign = value < 0 && units > 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    public static func json(_ result: KernelsResult, toolVersion: String, command: String) -> String {
        JSONOutput.text(Document(result, toolVersion: toolVersion, command: command))
    }

    struct Document: Encodable {
        struct Cell: Encodable {
            var workload: String
            var reader: String
            var snapshots: Int
            var consistentPercent: Double?
            var anomaliesPer100: AnomalyRates
            var noOverlapViolations: Int
            var nsPerMutation: UInt64?
            var failedRecordings: Int
            var failures: [String]
            enum CodingKeys: String, CodingKey {
                case workload, reader, snapshots, failures
                case consistentPercent = "consistent_percent"
                case anomaliesPer100 = "anomalies_per_100"
                case noOverlapViolations = "no_overlap_violations"
                case nsPerMutation = "ns_per_mutation"
                case failedRecordings = "failed_recordings"
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(workload, forKey: .workload)
                try container.encode(reader, forKey: .reader)
                try container.encode(snapshots, forKey: .snapshots)
                try container.encode(consistentPercent, forKey: .consistentPercent)
                try container.encode(anomaliesPer100, forKey: .anomaliesPer100)
                try container.encode(noOverlapViolations, forKey: .noOverlapViolations)
                try container.encode(nsPerMutation, forKey: .nsPerMutation)
                try container.encode(failedRecordings, forKey: .failedRecordings)
                try container.encode(failures, forKey: .failures)
            }
        }
        struct Kernel: Encodable {
            var requested: String
            var host: Bool
            var package: String?
            var kernelRelease: String?
            var procmapQuery: Bool?
            var elapsedNs: UInt64
            var surveyDirectory: String?
            var nsPerMutation: UInt64?
            var timingScale: Double?
            var failure: String?
            var cells: [Cell]
            enum CodingKeys: String, CodingKey {
                case requested, host, package, failure, cells
                case kernelRelease = "kernel_release"
                case procmapQuery = "procmap_query"
                case elapsedNs = "elapsed_ns"
                case surveyDirectory = "survey_directory"
                case nsPerMutation = "ns_per_mutation"
                case timingScale = "timing_scale"
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(requested, forKey: .requested)
                try container.encode(host, forKey: .host)
                try container.encode(package, forKey: .package)
                try container.encode(kernelRelease, forKey: .kernelRelease)
                try container.encode(procmapQuery, forKey: .procmapQuery)
                try container.encode(elapsedNs, forKey: .elapsedNs)
                try container.encode(surveyDirectory, forKey: .surveyDirectory)
                try container.encode(nsPerMutation, forKey: .nsPerMutation)
                try container.encode(timingScale, forKey: .timingScale)
                try container.encode(failure, forKey: .failure)
                try container.encode(cells, forKey: .cells)
            }
        }
        var toolVersion: String
        var command: String
        var directory: String
        var surveyArguments: [String]
        var accelerator: String
        var cpus: Int
        var memoryMiB: Int
        var elapsedNs: UInt64
        var interrupted: Bool
        var signal: Int32
        var kernels: [Kernel]
        enum CodingKeys: String, CodingKey {
            case command, directory, accelerator, cpus, interrupted, signal, kernels
            case toolVersion = "tool_version"
            case surveyArguments = "survey_arguments"
            case memoryMiB = "memory_mib"
            case elapsedNs = "elapsed_ns"
        }

        init(_ result: KernelsResult, toolVersion: String, command: String) {
            self.toolVersion = toolVersion
            self.command = command
            directory = result.directory
            surveyArguments = result.surveyArguments
            accelerator = result.machine.accelerator
            cpus = result.machine.cpus
            memoryMiB = result.machine.memoryMiB
            elapsedNs = result.elapsedNs
            interrupted = result.interruptedBy != 0
            signal = result.interruptedBy
            kernels = result.rows.map { row in
                Kernel(
                    requested: row.requested, host: row.isHost, package: row.package, kernelRelease: row.release,
                    procmapQuery: row.procmapQuery, elapsedNs: row.elapsedNs, surveyDirectory: row.surveyDirectory,
                    nsPerMutation: row.nsPerMutation, timingScale: result.timingScale(row), failure: row.failure,
                    cells: row.cells.map { cell in
                        Cell(
                            workload: cell.workload, reader: cell.reader, snapshots: cell.snapshots,
                            consistentPercent: cell.consistentPercent,
                            anomaliesPer100: AnomalyRates(
                                duplicated: cell.duplicatedPer100, intraRead: cell.intraReadPer100,
                                missing: cell.missingPer100, torn: cell.tornPer100),
                            noOverlapViolations: cell.noOverlapViolations, nsPerMutation: cell.nsPerMutation,
                            failedRecordings: cell.failedRecordings, failures: cell.failures)
                    })
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(toolVersion, forKey: .toolVersion)
            try container.encode(command, forKey: .command)
            try container.encode(directory, forKey: .directory)
            try container.encode(surveyArguments, forKey: .surveyArguments)
            try container.encode(accelerator, forKey: .accelerator)
            try container.encode(cpus, forKey: .cpus)
            try container.encode(memoryMiB, forKey: .memoryMiB)
            try container.encode(elapsedNs, forKey: .elapsedNs)
            try container.encode(interrupted, forKey: .interrupted)
            try container.encode(signal, forKey: .signal)
            try container.encode(kernels, forKey: .kernels)
        }
    }
}

/// A survey cell's anomalies per 100 judged snapshots, as survey.json
/// (docs/survey.md) writes them and kernels.json (docs/kernels.md) repeats them.
struct AnomalyRates: Codable {
    var duplicated: Double
    var intraRead: Double
    var missing: Double
    var torn: Double
    enum CodingKeys: String, CodingKey {
        case duplicated, missing, torn
        case intraRead = "intra_read"
    }
}
