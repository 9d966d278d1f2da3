// Every subcommand run as a user runs it, on bad input as much as on good:
// the exact exit code (README, "### Exit status"), a specific message on
// stderr and, where there is any, what stdout holds. The inputs are the
// committed traces in traces/, damaged copies of them, and two tiny
// recordings where a fresh one is essential.

import Foundation
import MapsAnalysis
import MapsRecorder
import MapsTrace
import Testing

// MARK: - Inputs

/// The small real recordings committed in traces/.
private enum CommittedTrace {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("traces")

    /// Chromium's reader: every snapshot torn (17 torn, 5 intra_read in its golden analysis).
    static let torn = path("rolling-chromium-4000p-seed2")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name + ".mrtrace").path
    }

    static func goldenAnalysis(of trace: String) throws -> [String: Any] {
        let golden = String(trace.dropLast(".mrtrace".count)) + ".analysis.json"
        return try jsonObject(Data(contentsOf: URL(fileURLWithPath: golden)))
    }
}

/// A directory for one test's files and runs, removed with all it holds.
private final class Scratch {
    let path: String

    init() throws { path = try makeTemporaryDirectory() }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    /// Runs `mapsrace` with this directory as its working directory, so
    /// relative names in `arguments` are its files.
    func run(_ arguments: String...) throws -> MapsraceRun { try runMapsrace(arguments, in: path) }
}

private func bytes(of path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func jsonObject(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Writes the records of `source` again with `blockSize` raw bytes per
/// block: the same recording in many small blocks, so that a cut in the
/// middle of the file leaves complete blocks before it.
private func reblock(_ source: String, to target: String, blockSize: Int) throws -> Int {
    let reader = try TraceReader(path: source)
    let writer = try TraceWriter(path: target, blockSize: blockSize)
    while let record = try reader.next() { try writer.append(record) }
    try writer.finish()
    #expect(reader.completion == .complete)
    return writer.blocksWritten
}

/// A pseudo-random byte string, the same on every run (xorshift64).
private func noise(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state >> 32)
    }
}

/// Runs /usr/bin/zstd with `arguments` in `directory`.
private func zstd(_ arguments: [String], in directory: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
    process.arguments = ["-q"] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "zstd \(arguments) failed")
}

// MARK: - Expectations

/// The run failed the documented way: exit `code`, every fragment in one
/// "mapsrace: error:" (or ArgumentParser "Error:") message, nothing on stdout.
private func expectFailure(
    _ run: MapsraceRun, exit code: Int32, saying fragments: [String], stdoutEmpty: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(run.exitCode == code, "stderr: \(run.standardError)", sourceLocation: sourceLocation)
    let prefix = code == 64 ? "Error: " : "mapsrace: error: "
    #expect(run.standardError.hasPrefix(prefix), "stderr: \(run.standardError)", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(run.standardError.contains(fragment), "stderr: \(run.standardError)", sourceLocation: sourceLocation)
    }
    if stdoutEmpty {
        #expect(run.standardOutput.isEmpty, "stdout: \(run.standardOutput.prefix(500))", sourceLocation: sourceLocation)
    }
}

/// The run succeeded with exit `code` and said nothing on stderr.
private func expectQuietSuccess(_ run: MapsraceRun, exit code: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(run.exitCode == code, "stderr: \(run.standardError)", sourceLocation: sourceLocation)
    #expect(run.standardError.isEmpty, "stderr: \(run.standardError)", sourceLocation: sourceLocation)
}

// MARK: - analyze

@Suite("Command line: analyze")
struct AnalyzeCommandLine {
    @Test func reportOnACommittedTrace() throws {
        let scratch = try Scratch()
        let run = try scratch.run("analyze", CommittedTrace.torn)
        expectQuietSuccess(run)
        #expect(run.standardOutput.contains("Model       validated"))
        #expect(run.standardOutput.contains("Snapshots   4: 0 consistent, 4 never existed as read"))
    }

    @Test func jsonIsOneObjectWithTheDocumentedKeys() throws {
        let scratch = try Scratch()
        let run = try scratch.run("analyze", CommittedTrace.torn, "--json")
        expectQuietSuccess(run)
        let report = try jsonObject(Data(run.standardOutput.utf8))
        for key in ["model_validated", "snapshots", "totals", "guarantees"] {
            #expect(report[key] != nil, "no key \(key)")
        }
        #expect(report["model_validated"] as? Bool == true)
        #expect((report["snapshots"] as? [Any])?.count == 4)
        let totals = try #require(report["totals"] as? NSDictionary)
        let golden = try #require(try CommittedTrace.goldenAnalysis(of: CommittedTrace.torn)["totals"] as? NSDictionary)
        #expect(totals == golden)
    }

    @Test func failOnAnomalyExitsOneAfterTheReport() throws {
        let scratch = try Scratch()
        let run = try scratch.run("analyze", CommittedTrace.torn, "--fail-on-anomaly", "--brief")
        expectQuietSuccess(run, exit: 1)
        #expect(run.standardOutput.contains("Anomalies   torn 17"))
    }

    @Test func failOnAnomalyExitsZeroWhenTheReaderStoppedTheTarget() throws {
        let scratch = try Scratch()
        let recording = try scratch.run(
            "record", "--reader", "frozen", "--pages", "300", "--snapshots", "3", "--seed", "7", "-o", "frozen.mrtrace")
        try #require(recording.exitCode == 0, "record: \(recording.standardError)")
        let run = try scratch.run("analyze", "frozen.mrtrace", "--fail-on-anomaly", "--json")
        expectQuietSuccess(run)
        let report = try jsonObject(Data(run.standardOutput.utf8))
        let totals = try #require(report["totals"] as? [String: Any])
        for kind in ["torn", "duplicated", "missing", "intra_read", "phantom"] {
            #expect(totals[kind] as? Int == 0, "\(kind): \(totals[kind] ?? "absent")")
        }
        #expect(report["consistent_snapshots"] as? Int == 3)
    }

    @Test func aSnapshotNotInTheTraceNamesTheRange() throws {
        let scratch = try Scratch()
        let run = try scratch.run("analyze", CommittedTrace.torn, "--snapshot", "99")
        expectFailure(run, exit: 31, saying: ["snapshot 99 is not in the trace: it has snapshots 0 to 3"])
    }
}
