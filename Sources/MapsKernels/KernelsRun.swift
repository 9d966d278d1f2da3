#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What `mapsrace kernels` does: the same survey on this machine and in a
/// guest per kernel.
public struct KernelsPlan: Sendable {
    public var kernels: [KernelSource]
    /// The survey options, passed unchanged to `mapsrace survey` here and in
    /// every guest (never `--dir`, `--json` or `--markdown`).
    public var surveyArguments: [String]
    public var directory: String
    public var cacheDirectory: String
    public var machine: GuestMachineSettings
    /// The `mapsrace` binary that goes into the guests and runs the host survey.
    public var executable: String
    /// Run the survey on this machine too (its row of the table).
    public var includeHost: Bool

    public init(
        kernels: [KernelSource], surveyArguments: [String], directory: String, cacheDirectory: String,
        machine: GuestMachineSettings, executable: String, includeHost: Bool = true
    ) {
        self.kernels = kernels
        self.surveyArguments = surveyArguments
        self.directory = directory
        self.cacheDirectory = cacheDirectory
        self.machine = machine
        self.executable = executable
        self.includeHost = includeHost
    }
}

/// One cell of one kernel's survey, as the kernels table shows it.
public struct KernelCell: Sendable, Equatable, Codable {
    public var workload: String
    public var reader: String
    public var snapshots: Int
    public var consistentPercent: Double?
    public var duplicatedPer100: Double
    public var intraReadPer100: Double
    public var missingPer100: Double
    public var tornPer100: Double
    public var noOverlapViolations: Int
    /// Median over the cell's traces of the mutator's loop time per mutation.
    public var nsPerMutation: UInt64?
    /// The cell's failed recordings' messages (distinct).
    public var failures: [String]
    public var failedRecordings: Int
}

/// One row group of the table: this machine or one guest.
public struct KernelRow: Sendable, Equatable {
    /// `host`, or the `--kernel` argument.
    public var requested: String
    public var isHost: Bool
    public var package: String?
    /// `uname -r` as the survey saw it.
    public var release: String?
    public var procmapQuery: Bool?
    /// From the start of the step (download, boot, survey, transfer) to its end.
    public var elapsedNs: UInt64
    /// Where this row's survey directory is (traces, survey.json).
    public var surveyDirectory: String?
    public var cells: [KernelCell]
    /// Median over all the row's traces of the loop time per mutation.
    public var nsPerMutation: UInt64?
    /// Why this kernel has no survey; nil when it has one.
    public var failure: String?
}

public struct KernelsResult: Sendable, Equatable {
    public var rows: [KernelRow]
    public var directory: String
    public var surveyArguments: [String]
    public var elapsedNs: UInt64
    public var interruptedBy: Int32
    public var machine: GuestMachineSettings

    /// The host row's time per mutation, the scale's unit.
    public var hostNsPerMutation: UInt64? { rows.first(where: \.isHost)?.nsPerMutation }

    /// A row's loop time per mutation over the host's.
    public func timingScale(_ row: KernelRow) -> Double? {
        guard let own = row.nsPerMutation, let host = hostNsPerMutation, host > 0 else { return nil }
        return Double(own) / Double(host)
    }
}

/// Runs the plan: the host survey first, then every kernel in turn. A kernel
/// that cannot be fetched, does not boot in time or sends back no survey is a
/// failed row; the others go on. `progress` hears what is starting.
public func runKernels(_ plan: KernelsPlan, qemu: String, progress: (String) -> Void) throws(KernelsError) -> KernelsResult {
    let started = MonotonicClock.now()
    try makeDirectory(plan.directory)
    var rows: [KernelRow] = []
    var interruptedBy: Int32 = 0
    if plan.includeHost {
        progress("host: survey on this machine")
        rows.append(hostRow(plan, interruptedBy: &interruptedBy))
    }
    var usedNames: Set<String> = ["host"]
    var image: String?
    for source in plan.kernels where interruptedBy == 0 {
        let stepStart = MonotonicClock.now()
        var name = source.description.split(separator: "/").last.map(String.init) ?? "guest"
        if !ResultChannel.isSafeName(name) { name = "guest" }
        while usedNames.contains(name) { name += "+" }
        usedNames.insert(name)
        var row = KernelRow(
            requested: source.description, isHost: false, package: nil, release: nil, procmapQuery: nil,
            elapsedNs: 0, surveyDirectory: nil, cells: [], nsPerMutation: nil, failure: nil)
        defer { row.elapsedNs = MonotonicClock.now() - stepStart; rows.append(row) }
        let cache = KernelCache(directory: plan.cacheDirectory)
        let kernel: String
        do {
            progress("\(source): fetching the kernel")
            let fetched = try cache.image(for: source)
            kernel = fetched.path
            row.package = fetched.package
            if image == nil {
                progress("\(source): building the guest's initramfs")
                image = try GuestImage.build(executable: plan.executable, cacheDirectory: plan.cacheDirectory)
            }
        } catch {
            row.failure = error.description
            continue
        }
        let guestDirectory = "\(plan.directory)/\(name)"
        do { try makeDirectory(guestDirectory) } catch {
            row.failure = error.description
            continue
        }
        progress("\(source): booting the guest and running the survey in it")
        // Still in use: a concurrent run's pruning must leave it.
        GuestImage.markUsed(image!)
        let outcome = runGuest(
            qemu: qemu, kernel: kernel, initramfs: image!, surveyArguments: plan.surveyArguments,
            directory: guestDirectory, settings: plan.machine)
        interruptedBy = outcome.interruptedBy
        row.release = outcome.received.release
        row.procmapQuery = outcome.received.procmapQuery
        let surveyDirectory = guestDirectory + "/survey"
        if !outcome.received.files.isEmpty {
            do { try makeDirectory(surveyDirectory) } catch {
                row.failure = error.description
                continue
            }
            for file in outcome.received.files {
                if case .failure(let code) = writeWholeFile("\(surveyDirectory)/\(file.name)", file.bytes) {
                    row.failure = KernelsError.notWritable("\(surveyDirectory)/\(file.name)", code.text).description
                }
            }
            row.surveyDirectory = surveyDirectory
        }
        if let failure = outcome.failure {
            row.failure = failure
            continue
        }
        if let digest = loadSurvey(surveyDirectory) {
            row.cells = digest.cells
            row.nsPerMutation = digest.nsPerMutation
            row.release = digest.release
        } else {
            row.failure = "the guest's survey.json does not parse"
        }
    }
    return KernelsResult(
        rows: rows, directory: plan.directory, surveyArguments: plan.surveyArguments,
        elapsedNs: MonotonicClock.now() - started, interruptedBy: interruptedBy, machine: plan.machine)
}

func hostRow(_ plan: KernelsPlan, interruptedBy: inout Int32) -> KernelRow {
    let surveyDirectory = plan.directory + "/host"
    let log = plan.directory + "/host-survey.log"
    let run = runProgram(
        plan.executable, ["survey"] + plan.surveyArguments + ["--json", "--dir", surveyDirectory],
        standardError: log)
    interruptedBy = run.interruptedBy
    var row = KernelRow(
        requested: "host", isHost: true, package: nil, release: KernelIdentity.current().release,
        procmapQuery: procmapQueryAvailable(), elapsedNs: run.elapsedNs, surveyDirectory: surveyDirectory,
        cells: [], nsPerMutation: nil, failure: nil)
    if let digest = loadSurvey(surveyDirectory) {
        row.cells = digest.cells
        row.nsPerMutation = digest.nsPerMutation
    } else {
        row.failure = "the survey on this machine failed (\(run.status.map(\.description) ?? "not started")): \(excerpt(of: log, lines: 2))"
    }
    return row
}

/// The parts of survey.json (docs/survey.md) the kernels table shows.
struct SurveyDigestDocument: Decodable {
    struct Cell: Decodable {
        struct Trace: Decodable { var trace: String }
        struct Failure: Decodable { var message: String }
        var workload: String
        var reader: String
        var snapshots: Int
        var consistentPercent: Double?
        var anomaliesPer100: AnomalyRates
        var noOverlapViolations: Int
        var traces: [Trace]
        var failures: [Failure]
        enum CodingKeys: String, CodingKey {
            case workload, reader, snapshots, traces, failures
            case consistentPercent = "consistent_percent"
            case anomaliesPer100 = "anomalies_per_100"
            case noOverlapViolations = "no_overlap_violations"
        }
    }
    var kernelRelease: String
    var cells: [Cell]
    enum CodingKeys: String, CodingKey {
        case cells
        case kernelRelease = "kernel_release"
    }
}

struct SurveyDigest {
    var release: String
    var cells: [KernelCell]
    var nsPerMutation: UInt64?
}

/// Reads `directory/survey.json` and times the mutator in every trace it
/// names (found in `directory` by file name: a guest's paths are the guest's).
func loadSurvey(_ directory: String) -> SurveyDigest? {
    guard case .success(let bytes) = readWholeFile(directory + "/survey.json"),
        let document = try? JSONDecoder().decode(SurveyDigestDocument.self, from: Data(bytes))
    else { return nil }
    var all: [UInt64] = []
    let cells = document.cells.map { cell in
        let timings = cell.traces.compactMap { trace in
            nsPerMutation(inTrace: directory + "/" + (trace.trace.split(separator: "/").last.map(String.init) ?? trace.trace))
        }
        all += timings
        var messages: [String] = []
        for failure in cell.failures where !messages.contains(failure.message) { messages.append(failure.message) }
        return KernelCell(
            workload: cell.workload, reader: cell.reader, snapshots: cell.snapshots,
            consistentPercent: cell.consistentPercent, duplicatedPer100: cell.anomaliesPer100.duplicated,
            intraReadPer100: cell.anomaliesPer100.intraRead, missingPer100: cell.anomaliesPer100.missing,
            tornPer100: cell.anomaliesPer100.torn, noOverlapViolations: cell.noOverlapViolations,
            nsPerMutation: median(timings), failures: messages, failedRecordings: cell.failures.count)
    }
    return SurveyDigest(release: document.kernelRelease, cells: cells, nsPerMutation: median(all))
}

/// The mutator's loop time over the mutations issued in it (the trailer's
/// loop bounds; setup mutations excluded); nil without a trailer or mutations.
public func nsPerMutation(inTrace path: String) -> UInt64? {
    guard let reader = try? TraceReader(path: path) else { return nil }
    var begins: [UInt64] = []
    var trailer: TraceTrailer?
    do {
        while let view = try reader.nextView() {
            switch view {
            case .mutation(let mutation): begins.append(mutation.tBegin)
            case .trailer(let end): trailer = end
            default: break
            }
        }
    } catch { return nil }
    guard let trailer, trailer.mutatorLoopEnd > trailer.mutatorLoopBegin else { return nil }
    let inLoop = begins.filter { $0 >= trailer.mutatorLoopBegin && $0 <= trailer.mutatorLoopEnd }.count
    guard inLoop > 0 else { return nil }
    return (trailer.mutatorLoopEnd - trailer.mutatorLoopBegin) / UInt64(inLoop)
}

func median(_ values: [UInt64]) -> UInt64? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
