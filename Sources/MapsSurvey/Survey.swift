import MapsAnalysis
import MapsRecorder
import MapsSystem
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
    /// The exit status the command line gives an error (its ExitStatus
    /// table): a failed cell records it for a name the recorder refuses, a
    /// recorder that cannot be started, and an analysis that fails.
    public let exitStatus: (any Error) -> Int32

    public init(plan: SurveyPlan, exitStatus: @escaping (any Error) -> Int32) {
        self.plan = plan
        self.exitStatus = exitStatus
    }

    /// Runs the plan: creates the directory (or takes an empty one), records
    /// and analyses, then writes survey.json and survey.md into it.
    /// A recording that fails becomes a failure of its cell; only a plan that
    /// makes no sense or a directory that cannot be written throws.
    public func run(progress: (SurveyProgress) -> Void = { _ in }) throws(SurveyError) -> SurveyResult {
        try plan.validate()
        try prepareDirectory(plan.directory)
        let kernel = KernelIdentity.current()
        let start = MonotonicClock.now()
        var result = SurveyResult(
            plan: plan, kernelRelease: kernel.release, machine: kernel.machine, startWallClockNs: WallClock.now(),
            elapsedNs: 0, cells: [], signal: 0)
        let pairs = plan.workloads.flatMap { workload in plan.readers.map { (workload, $0) } }
        survey: for (number, (workload, reader)) in pairs.enumerated() {
            if StopSignal.received != 0 { break }
            var cell = SurveyCell(workload: workload, reader: reader)
            defer { result.cells.append(cell) }
            if let refusal = unknownName(workload: workload, reader: reader) {
                cell.failures = (0..<plan.repetitions).map { repetition in
                    FailedRecording(
                        repetition: repetition, seed: plan.seed(forRepetition: repetition), trace: nil,
                        exitCode: exitStatus(refusal), message: refusal.description)
                }
                continue
            }
            for repetition in 0..<plan.repetitions {
                if StopSignal.received != 0 { break survey }
                progress(SurveyProgress(
                    cell: number + 1, cells: pairs.count, workload: workload, reader: reader,
                    recording: repetition + 1, repetitions: plan.repetitions))
                switch recordAndAnalyse(workload: workload, reader: reader, repetition: repetition) {
                case .analysed(let recording): cell.recordings.append(recording)
                case .failed(let failure): cell.failures.append(failure)
                }
            }
        }
        result.signal = StopSignal.received
        result.elapsedNs = MonotonicClock.now() - start
        try write(SurveyTable.json(result), to: plan.directory + "/survey.json")
        try write(SurveyTable.markdown(result), to: plan.directory + "/survey.md")
        return result
    }

    /// Why the recorder would refuse this workload or reader, nil if it takes both.
    func unknownName(workload: String, reader: String) -> (any Error & CustomStringConvertible)? {
        do {
            _ = try Workload(parsing: workload)
            if reader.hasPrefix(RealReaders.prefix) {
                guard let real = RealReaders.named(reader) else {
                    return SurveyError.realReaderUnavailable(
                        name: reader, reason: "not in the table (" + RealReaders.names.joined(separator: ", ") + ")")
                }
                if let missing = real.missingProgram() {
                    return SurveyError.realReaderUnavailable(name: reader, reason: missing)
                }
                return nil
            }
            _ = try ReaderStrategy(parsing: reader)
            return nil
        } catch {
            return error
        }
    }

    /// One recording in a fresh process, then its analysis.
    func recordAndAnalyse(workload: String, reader: String, repetition: Int) -> RecordingOutcome {
        let seed = plan.seed(forRepetition: repetition)
        let trace = plan.tracePath(workload: workload, reader: reader, repetition: repetition)
        let errorPath = trace.dropLast(".mrtrace".count) + ".stderr"
        let outcomePath = trace.dropLast(".mrtrace".count) + ".outcome.json"
        let real = RealReaders.named(reader)
        var arguments = [
            "record", "--workload=\(workload)", "--pages=\(plan.pageCount)",
            "--snapshots=\(plan.snapshotCount)", "--seed=\(seed)", "--output=\(trace)",
        ]
        if let real {
            // The real program is the reader, traced once per snapshot.
            arguments += ["--"] + real.commandLine(output: String(trace.dropLast(".mrtrace".count)) + ".out")
        } else {
            arguments.insert("--reader=\(reader)", at: 2)
        }
        let outcome = runRecordProcess(
            executable: plan.recorderExecutable, arguments: arguments, errorPath: String(errorPath),
            outcomePath: String(outcomePath), timeoutSeconds: plan.recordingTimeoutSeconds)
        // Keep the reader's or recorder's complaints next to the trace only when there are any.
        if fileSize(String(errorPath)) == 0 { unlink(String(errorPath)) }
        let written = fileSize(trace).map { $0 > 0 } ?? false
        if let surveyError = outcome.surveyError {
            return .failed(FailedRecording(
                repetition: repetition, seed: seed, trace: written ? trace : nil,
                exitCode: exitStatus(surveyError), message: outcome.message))
        }
        guard outcome.exitStatus == 0 else {
            return .failed(FailedRecording(
                repetition: repetition, seed: seed, trace: written ? trace : nil,
                exitCode: outcome.exitStatus, message: outcome.message))
        }
        do throws(AnalysisError) {
            return .analysed(try analyse(trace: trace, seed: seed, repetition: repetition, reader: reader))
        } catch {
            return .failed(FailedRecording(
                repetition: repetition, seed: seed, trace: trace, exitCode: exitStatus(error),
                message: "analysis failed: \(error.description)"))
        }
    }

    /// Analyses a trace (each snapshot's analysis carries how it ended:
    /// retry attempt, accepted).
    func analyse(trace: String, seed: UInt64, repetition: Int, reader: String = "") throws(AnalysisError) -> AnalysedRecording {
        let analysis = try TraceAnalysis(.file(trace), analysingWhileLoading: true)
        let report = try analysis.run()
        let parameters = analysis.context.header.readerParameters
        // A reader that aborts when its buffer fills delivers nothing then.
        let aborted: Set<Int> = parameters[parameter: "validation"] == "abort_when_full"
            ? Set(analysis.context.snapshotEndFlags.filter { $0.value.contains(.gaveUp) }.keys) : []
        let maxAttempts = parameters[parameter: "max_attempts"].flatMap { Int($0) }
        var pattern: PatternVerdict?
        if let real = RealReaders.named(reader) {
            do throws(TraceError) {
                pattern = RequestPatternCheck.compare(
                    snapshots: try RequestPatternCheck.snapshotChunks(trace: trace), profile: real.profile,
                    file: real.file)
            } catch {
                throw .trace(error)
            }
        }
        return AnalysedRecording(
            repetition: repetition, trace: trace, seed: seed, report: report,
            maxAttempts: maxAttempts,
            targetPausesNs: analysis.context.pauses.sorted { $0.key < $1.key }.map(\.value.pauseNs),
            abortedSnapshots: aborted, pattern: pattern)
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
    let code = Errno.afterFailedCall
    guard code == .fileExists else {
        throw .directoryNotWritable(path: path, reason: code.text)
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
        throw .directoryNotWritable(path: path, reason: Errno.afterFailedCall.text)
    }
    let bytes = Array(text.utf8)
    let written = fwrite(bytes, 1, bytes.count, file)
    let closed = fclose(file)
    guard written == bytes.count && closed == 0 else {
        throw .directoryNotWritable(path: path, reason: "short write")
    }
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
