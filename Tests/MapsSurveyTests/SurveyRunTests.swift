// Real surveys, small: the recorder runs as the built `mapsrace` binary,
// found through $MAPSRACE_BINARY or next to the test bundle (`swift build
// --build-tests` puts both in the same directory).

import Foundation
import MapsAnalysis
import MapsRecorder
@testable import MapsSurvey
import MapsTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh, empty directory path under /tmp (created by the survey itself).
func freshDirectoryPath() throws -> String {
    var template = Array("/tmp/mapsrace-survey-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    try #require(made != nil, "mkdtemp failed")
    let path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path + "/survey"
}

func remove(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

func jsonObject(atPath path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Test func aTinySurveyKeepsEveryTraceAndWritesItsTable() throws {
    let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    let plan = SurveyPlan(
        workloads: ["rolling"], readers: ["chromium", "read:4096"], repetitions: 1, pageCount: 300,
        snapshotCount: 3, seed: 11, directory: directory, recorderExecutable: binary, toolVersion: "test")
    var steps: [SurveyProgress] = []
    let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run { steps.append($0) }

    #expect(steps.map(\.cell) == [1, 2])
    #expect(steps.allSatisfy { $0.cells == 2 && $0.recording == 1 && $0.repetitions == 1 })
    #expect(!result.interrupted)
    #expect(result.cells.map(\.reader) == ["chromium", "read:4096"])
    for cell in result.cells {
        #expect(cell.failures.isEmpty, "\(cell.failures)")
        let recording = try #require(cell.recordings.first)
        #expect(recording.seed == 11)
        #expect(recording.report.seed == 11)
        #expect(recording.report.reader == cell.reader)
        #expect(recording.report.pages == 300)
        #expect(recording.report.snapshots.count == 3)
        #expect(cell.statistics.deliveredSnapshots == 3)
        #expect(cell.statistics.snapshots + cell.statistics.quietSnapshots == 3)
        #expect(access(recording.trace, R_OK) == 0)
    }
    #expect(result.cells[0].recordings.first?.trace == directory + "/rolling-chromium-r0.mrtrace")
    #expect(result.cells[1].recordings.first?.trace == directory + "/rolling-read4096-r0.mrtrace")

    // Every kept trace opens again with the analysis `analyze` runs.
    let reopened = try TraceAnalysis(.file(directory + "/rolling-read4096-r0.mrtrace")).run()
    #expect(reopened.snapshotCount == 3)

    let document = try jsonObject(atPath: directory + "/survey.json")
    #expect(document["kernel_release"] as? String == result.kernelRelease)
    #expect(document["command"] as? String == plan.regeneratingCommand)
    let cells = try #require(document["cells"] as? [[String: Any]])
    #expect(cells.count == 2)
    #expect(cells.map { $0["reader"] as? String } == ["chromium", "read:4096"])
    for cell in cells {
        #expect(cell["delivered_snapshots"] as? Int == 3)
        #expect(cell["snapshots"] as? Int == 3 - (cell["quiet_snapshots"] as? Int ?? -1))
        #expect(cell["recordings"] as? Int == 1)
        #expect((cell["traces"] as? [Any])?.count == 1)
        #expect((cell["failures"] as? [Any])?.isEmpty == true)
        #expect(cell.keys.contains("median_snapshot_ns"))
        #expect(cell.keys.contains("median_target_pause_ns"))
    }

    let markdown = try String(contentsOfFile: directory + "/survey.md", encoding: .utf8)
    #expect(markdown == SurveyTable.markdown(result))
    let tableRows = markdown.split(separator: "\n").filter { $0.hasPrefix("|") }
    #expect(tableRows.count == 2 + 2)  // heading, alignment, one row per cell
    let columnCounts = Set(tableRows.map { $0.filter { $0 == "|" }.count })
    #expect(columnCounts.count == 1)
    #expect(tableRows[2].hasPrefix("| rolling | chromium |"))
}

/// The survey asks the command line's exit-status table (ExitStatus in the
/// `mapsrace` target, tested there) for the status of an error it records;
/// this stand-in tells the kinds of error apart so a test sees which one the
/// survey passed.
func exitStatusByKind(_ error: any Error) -> Int32 {
    switch error {
    case RecordingError.invalidReaderStrategy, RecordingError.invalidWorkload: 64
    case is RecordingError: 24
    case is AnalysisError: 15
    default: 1
    }
}

@Test func anUnknownReaderFailsItsCellNotTheSurvey() throws {
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    let plan = SurveyPlan(
        workloads: ["rolling"], readers: ["no-such-reader"], repetitions: 2, pageCount: 300, snapshotCount: 3,
        directory: directory, recorderExecutable: "/nonexistent/mapsrace", toolVersion: "test")
    let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()

    let cell = try #require(result.cells.first)
    #expect(result.cells.count == 1)
    #expect(cell.recordings.isEmpty)
    #expect(cell.failures.map(\.repetition) == [0, 1])
    #expect(cell.failures.allSatisfy { $0.exitCode == 64 && $0.message.contains("no-such-reader") })
    #expect(SurveyTable.human(result).contains("FAILED 2/2: invalid reader strategy 'no-such-reader'"))
    let cells = try #require(try jsonObject(atPath: directory + "/survey.json")["cells"] as? [[String: Any]])
    #expect((cells.first?["failures"] as? [Any])?.count == 2)
    #expect(cells.first?["consistent_percent"] is NSNull)
}

@Test func aRecorderThatCannotRunFailsEachRecording() throws {
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    let plan = SurveyPlan(
        workloads: ["rolling"], readers: ["chromium", "pmap"], repetitions: 1, pageCount: 300, snapshotCount: 3,
        directory: directory, recorderExecutable: "/nonexistent/mapsrace", toolVersion: "test")
    let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
    #expect(result.cells.count == 2)
    for cell in result.cells {
        #expect(cell.recordings.isEmpty)
        let failure = try #require(cell.failures.first)
        #expect(failure.message.contains("cannot start /nonexistent/mapsrace"))
        #expect(failure.exitCode == 24)
        #expect(failure.trace == nil)
    }
}

@Test func aFailedRecordingIsReportedFromItsOutcomeFile() throws {
    let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    // An arena far over vm.max_map_count: `record` refuses it before mapping anything.
    let plan = SurveyPlan(
        workloads: ["rolling"], readers: ["chromium"], repetitions: 1, pageCount: 2_000_000, snapshotCount: 3,
        directory: directory, recorderExecutable: binary, toolVersion: "test")
    let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
    let failure = try #require(result.cells.first?.failures.first)
    #expect(failure.exitCode == 20)
    #expect(failure.message.hasPrefix("an arena of 2000000 pages needs about "))
    #expect(failure.message.contains("vm.max_map_count is"))
    // The outcome report is read and removed; the recorder's stderr stays beside the trace.
    let names = try FileManager.default.contentsOfDirectory(atPath: directory)
    #expect(!names.contains { $0.hasSuffix(".outcome.json") })
}

@Test func aSurveyRefusesADirectoryThatHoldsFiles() throws {
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    #expect(mkdir(directory, 0o755) == 0)
    #expect(FileManager.default.createFile(atPath: directory + "/old.mrtrace", contents: Data([1])))
    let plan = SurveyPlan(workloads: ["rolling"], readers: ["chromium"], directory: directory, toolVersion: "test")
    #expect(throws: SurveyError.directoryNotWritable(path: directory, reason: "it exists and is not empty")) {
        try Survey(plan: plan, exitStatus: exitStatusByKind).run()
    }
}

@Test func theHumanTableAlignsEveryRow() throws {
    let plan = SurveyPlan(workloads: ["rolling"], readers: ["chromium", "read:4096"], directory: "/tmp/x", toolVersion: "test")
    let analysed = AnalysedRecording(
        trace: "/tmp/x/a.mrtrace", seed: 1,
        report: report([snapshot(0, durationNs: 1_500_000), snapshot(1, durationNs: 2_500_000, anomalies: [.torn])]))
    let result = SurveyResult(
        plan: plan, kernelRelease: "6.18.0-test", machine: "x86_64", startWallClockNs: 0, elapsedNs: 0,
        cells: [
            SurveyCell(workload: "rolling", reader: "chromium", recordings: [analysed]),
            SurveyCell(workload: "rolling", reader: "read:4096", failures: [
                FailedRecording(repetition: 0, seed: 1, trace: nil, exitCode: 23, message: "reader process failed: boom"),
            ]),
        ],
        signal: 0)
    let lines = SurveyTable.human(result).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let heading = try #require(lines.first { $0.hasPrefix("workload") })
    let chromium = try #require(lines.first { $0.hasPrefix("rolling   chromium") })
    let failed = try #require(lines.first { $0.contains("read:4096") })
    // Right-aligned numeric columns end where their headings end.
    let readTime = try #require(heading.range(of: "read time"))
    #expect(chromium.contains("50.0%"))
    #expect(chromium.contains("2.00 ms"))
    #expect(chromium[..<chromium.index(chromium.startIndex, offsetBy: heading.distance(from: heading.startIndex, to: readTime.upperBound))].hasSuffix("2.00 ms"))
    #expect(failed.contains("FAILED 1/1: reader process failed: boom"))
    #expect(failed.contains(" - "))
}

/// A recorder that never ends (here a script that ignores SIGTERM, as a
/// program hung under the tracer might) is stopped at the survey's time
/// limit, SIGKILL after the SIGTERM, and its cell is marked failed: the
/// survey goes on instead of waiting forever.
@Test func aRecordingPastTheTimeLimitIsStoppedAndReported() throws {
    let directory = try freshDirectoryPath()
    defer { remove(directory) }
    let parent = (directory as NSString).deletingLastPathComponent
    let hung = parent + "/hung-recorder"
    try writeExecutableScript("#!/bin/sh\ntrap '' TERM\nsleep 600\n", to: hung)
    let plan = SurveyPlan(
        workloads: ["rolling"], readers: ["chromium"], repetitions: 1, pageCount: 300, snapshotCount: 3,
        directory: directory, recorderExecutable: hung, toolVersion: "test", recordingTimeoutSeconds: 1)
    let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
    let failure = try #require(result.cells.first?.failures.first)
    #expect(failure.message.contains("time limit of 1 s"), "\(failure.message)")
    // SIGTERM was ignored, so SIGKILL ended it.
    #expect(failure.message.contains("killed by signal 9"), "\(failure.message)")
    #expect(result.cells.first?.recordings.isEmpty == true)
}

@Test func aRecordingTimeLimitUnderOneSecondIsRefused() {
    let plan = SurveyPlan(directory: "/tmp/unused", toolVersion: "test", recordingTimeoutSeconds: 0)
    #expect(throws: SurveyError.self) { try plan.validate() }
}
