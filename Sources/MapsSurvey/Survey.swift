import MapsAnalysis
import MapsRecorder
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Where a running survey is, for a progress line.
public struct SurveyProgress: Sendable, Equatable {
    /// 1-based cell number out of `cells`, and its workload and reader.
    public var cell: Int
    public var cells: Int
    public var workload: String
    public var reader: String
    /// 1-based recording number out of `repetitions`.
    public var recording: Int
    public var repetitions: Int
}

/// A finished (or interrupted) survey: one cell per workload × reader, in
/// plan order (workloads outer, readers inner).
public struct SurveyResult: Sendable, Equatable {
    public var plan: SurveyPlan
    /// `uname -r` and `uname -m` of this machine.
    public var kernelRelease: String
    public var machine: String
    /// Wall-clock start, ns since the Unix epoch, and how long it ran.
    public var startWallClockNs: Int64
    public var elapsedNs: UInt64
    public var cells: [SurveyCell]
    /// The SIGINT or SIGTERM that stopped the survey early, 0 if none: the
    /// cells then hold what was recorded before it.
    public var signal: Int32

    public var interrupted: Bool { signal != 0 }
}

/// Records every reader against every workload, each recording by a fresh
/// `mapsrace record` process, and analyses each trace in-process.
public struct Survey {
    public let plan: SurveyPlan

    public init(plan: SurveyPlan) {
        self.plan = plan
    }

    /// Runs the plan: creates the directory (or takes an empty one), records
    /// and analyses, then writes survey.json and survey.md into it.
    /// A recording that fails becomes a failure of its cell; only a plan that
    /// makes no sense or a directory that cannot be written throws.
    public func run(progress: (SurveyProgress) -> Void = { _ in }) throws(SurveyError) -> SurveyResult {
        try plan.validate()
        try prepareDirectory(plan.directory)
        let (kernelRelease, machine) = systemName()
        let start = monotonicNanoseconds()
        var result = SurveyResult(
            plan: plan, kernelRelease: kernelRelease, machine: machine, startWallClockNs: wallClockNanoseconds(),
            elapsedNs: 0, cells: [], signal: 0)
        let pairs = plan.workloads.flatMap { workload in plan.readers.map { (workload, $0) } }
        survey: for (number, (workload, reader)) in pairs.enumerated() {
            if SurveyInterruption.signal != 0 { break }
            var cell = SurveyCell(workload: workload, reader: reader)
            defer { result.cells.append(cell) }
            if let reason = unknownName(workload: workload, reader: reader) {
                cell.failures = (0..<plan.repetitions).map { repetition in
                    FailedRecording(
                        repetition: repetition, seed: plan.seed(forRepetition: repetition), trace: nil,
                        exitCode: 64, message: reason)
                }
                continue
            }
            for repetition in 0..<plan.repetitions {
                if SurveyInterruption.signal != 0 { break survey }
                progress(SurveyProgress(
                    cell: number + 1, cells: pairs.count, workload: workload, reader: reader,
                    recording: repetition + 1, repetitions: plan.repetitions))
                switch recordAndAnalyse(workload: workload, reader: reader, repetition: repetition) {
                case .analysed(let recording): cell.recordings.append(recording)
                case .failed(let failure): cell.failures.append(failure)
                }
            }
        }
        result.signal = SurveyInterruption.signal
        result.elapsedNs = monotonicNanoseconds() - start
        try write(SurveyTable.json(result), to: plan.directory + "/survey.json")
        try write(SurveyTable.markdown(result), to: plan.directory + "/survey.md")
        return result
    }

    /// Why the recorder would refuse this workload or reader, nil if it takes both.
    func unknownName(workload: String, reader: String) -> String? {
        do {
            _ = try Workload(parsing: workload)
            _ = try ReaderStrategy(parsing: reader)
            return nil
        } catch {
            return error.description
        }
    }

    /// One recording in a fresh process, then its analysis.
    func recordAndAnalyse(workload: String, reader: String, repetition: Int) -> RecordingOutcome {
        let seed = plan.seed(forRepetition: repetition)
        let trace = plan.tracePath(workload: workload, reader: reader, repetition: repetition)
        let errorPath = trace.dropLast(".mrtrace".count) + ".stderr"
        let arguments = [
            "record", "--workload=\(workload)", "--reader=\(reader)", "--pages=\(plan.pageCount)",
            "--snapshots=\(plan.snapshotCount)", "--seed=\(seed)", "--output=\(trace)",
        ]
        let outcome = runRecordProcess(executable: plan.recorderExecutable, arguments: arguments, errorPath: String(errorPath))
        // Keep the reader's or recorder's complaints next to the trace only when there are any.
        if fileSize(String(errorPath)) == 0 { unlink(String(errorPath)) }
        let written = fileSize(trace).map { $0 > 0 } ?? false
        guard outcome.exitCode == 0 else {
            let message = outcome.message.isEmpty ? "mapsrace record exited with code \(outcome.exitCode)" : outcome.message
            return .failed(FailedRecording(
                repetition: repetition, seed: seed, trace: written ? trace : nil,
                exitCode: outcome.exitCode, message: message))
        }
        do throws(AnalysisError) {
            return .analysed(try analyse(trace: trace, seed: seed, repetition: repetition))
        } catch {
            return .failed(FailedRecording(
                repetition: repetition, seed: seed, trace: trace, exitCode: error.exitCode,
                message: "analysis failed: \(error.description)"))
        }
    }

    /// Analyses a trace (each snapshot's analysis carries how it ended:
    /// retry attempt, accepted).
    func analyse(trace: String, seed: UInt64, repetition: Int) throws(AnalysisError) -> AnalysedRecording {
        let analysis = try TraceAnalysis(.file(trace))
        let report = try analysis.run()
        let maxAttempts = analysis.context.header.readerParameters[parameter: "max_attempts"].flatMap { Int($0) }
        return AnalysedRecording(
            repetition: repetition, trace: trace, seed: seed, report: report,
            maxAttempts: maxAttempts,
            targetPausesNs: analysis.context.pauses.sorted { $0.key < $1.key }.map(\.value.pauseNs))
    }
}

enum RecordingOutcome {
    case analysed(AnalysedRecording)
    case failed(FailedRecording)
}

/// Creates the directory, or accepts an existing empty one, so that a
/// survey never mixes its traces with another's.
func prepareDirectory(_ path: String) throws(SurveyError) {
    if mkdir(path, 0o755) == 0 { return }
    let code = errno
    guard code == EEXIST else {
        throw .directoryNotWritable(path: path, reason: String(cString: strerror(code)))
    }
    guard let directory = opendir(path) else {
        throw .directoryNotWritable(path: path, reason: "it exists and is not a readable directory")
    }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." {
            throw .directoryNotWritable(path: path, reason: "it exists and is not empty")
        }
    }
}

func write(_ text: String, to path: String) throws(SurveyError) {
    guard let file = fopen(path, "w") else {
        throw .directoryNotWritable(path: path, reason: String(cString: strerror(errno)))
    }
    let bytes = Array(text.utf8)
    let written = fwrite(bytes, 1, bytes.count, file)
    let closed = fclose(file)
    guard written == bytes.count && closed == 0 else {
        throw .directoryNotWritable(path: path, reason: "short write")
    }
}

/// `uname -r` and `uname -m`.
func systemName() -> (release: String, machine: String) {
    var name = utsname()
    guard uname(&name) == 0 else { return ("unknown", "unknown") }
    func text<T>(_ field: T) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
    return (text(name.release), text(name.machine))
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// `survey-20261129-142501`: the default directory name, local time.
public func defaultSurveyDirectoryName() -> String {
    var now = time(nil)
    var local = tm()
    localtime_r(&now, &local)
    var buffer = [CChar](repeating: 0, count: 64)
    let count = strftime(&buffer, buffer.count, "survey-%Y%m%d-%H%M%S", &local)
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
