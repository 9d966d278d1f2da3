// Every subcommand run as a user runs it, on bad input as much as on good:
// the exact exit code (README, "### Exit status"), a specific message on
// stderr and, where there is any, what stdout holds. The inputs are the
// committed traces in traces/, damaged copies of them, and two tiny
// recordings where a fresh one is essential.

import Foundation
import MapsAnalysis
import MapsRecorder
import MapsTrace
import MapsTestSupport
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
    func run(_ arguments: String...) throws -> MapsraceRun { try run(arguments) }
    func run(_ arguments: [String]) throws -> MapsraceRun { try runMapsrace(arguments, in: path) }
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
private func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state >> 32)
    }
}

/// Runs the program at `executable` in `directory` and requires it to succeed.
private func runTool(_ executable: String, _ arguments: [String], in directory: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(executable) \(arguments) failed")
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

/// `observed` is `expected` byte for byte. A mismatch names the sizes and
/// the first differing byte (rendering a diff of two 200 KB arrays would
/// take minutes).
private func expectSameBytes(
    _ observed: [UInt8], _ expected: [UInt8], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard observed != expected else { return }
    let firstDifference = zip(observed, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(observed.count, expected.count)
    Issue.record(
        "\(what): \(observed.count) bytes where \(expected.count) were expected, differing from byte \(firstDifference)",
        sourceLocation: sourceLocation)
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

// MARK: - A trace cut short

/// A copy of a trace cut at `length` bytes, with what a reader recovers from it.
private struct CutTrace {
    let name: String
    let recovered: LoadedTrace
    let cut: TraceTruncation

    init(of source: String, length: Int, as name: String, in scratch: Scratch) throws {
        let contents = try bytes(of: source)
        try #require(length < contents.count)
        try scratch.write(Array(contents.prefix(length)), to: name)
        self.name = name
        recovered = try LoadedTrace(path: scratch.file(name))
        var truncation: TraceTruncation?
        if case .truncated(let cut) = recovered.completion { truncation = cut }
        cut = try #require(truncation, "a copy cut at \(length) of \(contents.count) bytes reads as \(recovered.completion)")
    }

    /// The warning the trace commands print after the recovered prefix's output.
    var warning: String {
        "mapsrace: warning: \(name): the trace is truncated: the block at byte \(cut.byteOffset) is incomplete; "
            + "\(cut.blocksRecovered) complete blocks (\(cut.recordsRecovered) records) before it were recovered.\n"
    }

    /// The committed torn trace re-encoded in 16 KiB blocks (mutations first,
    /// then the snapshots, then the final quiescent maps).
    static func reblockedTornTrace(in scratch: Scratch) throws -> String {
        let whole = scratch.file("reblocked.mrtrace")
        let blocks = try reblock(CommittedTrace.torn, to: whole, blockSize: 16 << 10)
        try #require(blocks > 20)
        return whole
    }

    /// Cut to 60% of its bytes: inside the mutations, before any snapshot.
    static func atSixtyPercent(in scratch: Scratch) throws -> CutTrace {
        let whole = try reblockedTornTrace(in: scratch)
        return try CutTrace(of: whole, length: try bytes(of: whole).count * 6 / 10, as: "cut.mrtrace", in: scratch)
    }

    /// Cut 100 bytes into the block after the one where snapshot 1 ends:
    /// snapshots 0 and 1 whole, snapshot 2 begun, no final quiescent maps.
    static func afterSnapshotOne(in scratch: Scratch) throws -> CutTrace {
        let whole = try reblockedTornTrace(in: scratch)
        let reader = try TraceReader(path: whole)
        var blockEnd: UInt64?
        while let record = try reader.next() {
            if case .snapshotEnd(let end) = record, end.index == 1 {
                blockEnd = reader.compressedBytesRead  // blocks are read whole
                break
            }
        }
        let length = Int(try #require(blockEnd)) + 100
        return try CutTrace(of: whole, length: length, as: "cut.mrtrace", in: scratch)
    }
}

@Suite("Command line: a trace cut short")
struct TruncatedTraceCommandLine {
    @Test func analyzeReportsTheRecoveredPrefixThenExits13() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.atSixtyPercent(in: scratch)
        let mutations = trace.recovered.mutations.count
        try #require(mutations > 0 && trace.recovered.snapshotEnds.isEmpty)

        let run = try scratch.run("analyze", trace.name, "--brief")
        #expect(run.exitCode == 13)
        #expect(run.standardOutput.hasPrefix("Trace       cut.mrtrace (incomplete: analysed up to where it was cut)\n"))
        #expect(run.standardOutput.contains("· \(mutations) mutations\n"))
        #expect(run.standardOutput.contains("Model       NOT validated: the trace has no final quiescent maps"))
        #expect(run.standardError == trace.warning)

        let json = try scratch.run("analyze", trace.name, "--json")
        #expect(json.exitCode == 13)
        let report = try jsonObject(Data(json.standardOutput.utf8))
        #expect(report["trace_complete"] as? Bool == false)
        #expect(report["mutations"] as? Int == mutations)
        #expect(json.standardError == trace.warning)
    }

    @Test func analyzeJudgesTheSnapshotsBeforeTheCut() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.afterSnapshotOne(in: scratch)
        let run = try scratch.run("analyze", trace.name, "--brief")
        #expect(run.exitCode == 13)
        #expect(run.standardOutput.contains("Snapshots   3: "))
        // The table's rows: snapshots 0 and 1 whole, 2 cut off.
        let rows = run.standardOutput.split(separator: "\n").filter { $0.hasPrefix("        ") }
        #expect(rows.map { $0.split(separator: " ").first } == ["0", "1", "2"])
        #expect(rows.last?.hasSuffix("did not reach end of file") == true)
        #expect(run.standardError == trace.warning)
    }

    @Test func infoSummarisesTheRecoveredPrefixThenExits13() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.atSixtyPercent(in: scratch)
        let run = try scratch.run("info", trace.name)
        #expect(run.exitCode == 13)
        #expect(run.standardOutput.contains("mutations       \(trace.recovered.mutations.count)\n"))
        #expect(run.standardOutput.contains(
            "status          truncated at byte \(trace.cut.byteOffset): "
                + "\(trace.cut.blocksRecovered) blocks, \(trace.cut.recordsRecovered) records recovered"))
        #expect(run.standardError == trace.warning)
    }

    @Test func extractWritesWhatWasRecoveredThenExits13() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.atSixtyPercent(in: scratch)
        let initial = try #require(trace.recovered.quiescent(.initial))
        let run = try scratch.run("extract", trace.name, "-o", "maps")
        #expect(run.exitCode == 13)
        #expect(run.standardOutput == "wrote maps/saved-maps.txt (\(initial.text.count) bytes, initial quiescent maps)\n")
        expectSameBytes(try bytes(of: scratch.file("maps/saved-maps.txt")), initial.text, "saved-maps.txt")
        #expect(run.standardError.contains(
            "the trace is truncated: the block at byte \(trace.cut.byteOffset) is incomplete; "
                + "\(trace.cut.blocksRecovered) complete blocks (\(trace.cut.recordsRecovered) records) before it were recovered."))
        #expect(run.standardError == trace.warning)
    }

    @Test func extractWritesAHalfReadSnapshotAsFarAsItGoes() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.afterSnapshotOne(in: scratch)
        let run = try scratch.run("extract", trace.name, "-o", "maps")
        #expect(run.exitCode == 13)
        #expect(run.standardOutput.contains("snapshot 1, "))
        #expect(run.standardOutput.contains(", incomplete)\n"))
        #expect(run.standardError.hasPrefix(
            "mapsrace: warning: snapshot 2 ends before its end record: written as far as it was read.\n"))
        #expect(run.standardError.contains("the trace is truncated"))
        let snapshotOne = trace.recovered.chunks.filter { $0.snapshot == 1 }.flatMap(\.bytes)
        expectSameBytes(try bytes(of: scratch.file("maps/saved-maps-01.txt")), snapshotOne, "saved-maps-01.txt")
    }

    @Test func diffShowsASnapshotBeforeTheCutThenExits13() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.afterSnapshotOne(in: scratch)
        let run = try scratch.run("diff", trace.name, "--snapshot", "0", "--color", "never")
        #expect(run.exitCode == 13)
        #expect(run.standardOutput.contains("+++ observed snapshot 0: "))
        #expect(run.standardOutput.contains("\n## read "))
        #expect(run.standardError == trace.warning)
    }

    @Test func diffOfASnapshotTheCutTookAway() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.atSixtyPercent(in: scratch)
        let run = try scratch.run("diff", trace.name, "--snapshot", "0", "--color", "never")
        #expect(run.standardOutput.isEmpty)
        #expect(run.exitCode == 13)
        #expect(run.standardError.contains("the trace is truncated"))
    }

    @Test func replayPrintsAStateBeforeTheCutThenExits13() throws {
        let scratch = try Scratch()
        let trace = try CutTrace.atSixtyPercent(in: scratch)
        let initial = try #require(trace.recovered.quiescent(.initial))
        let base = try TraceAnalysis(.file(scratch.file(trace.name))).truth.baseState
        let run = try scratch.run("replay", trace.name, "--state", String(base))
        #expect(run.exitCode == 13)
        // At the base state the model is the initial quiescent read, verbatim.
        expectSameBytes(Array(run.standardOutput.utf8), initial.text, "replay at the base state")
        #expect(run.standardError == trace.warning)
    }

    /// A cut inside the first block leaves nothing to recover. The file
    /// starts with a sound zstd frame header that declares its size; only its
    /// data ends early, so nothing says it is not a trace: 13, not 11.
    @Test func aCutInsideTheFirstBlock() throws {
        let scratch = try Scratch()
        let length = try bytes(of: CommittedTrace.torn).count * 6 / 10
        let trace = try CutTrace(of: CommittedTrace.torn, length: length, as: "cut.mrtrace", in: scratch)
        try #require(trace.cut.blocksRecovered == 0 && trace.cut.byteOffset == 0)

        let info = try scratch.run("info", trace.name)
        #expect(info.exitCode == 13)
        #expect(info.standardOutput.contains("status          truncated at byte 0: 0 blocks, 0 records recovered"))
        #expect(info.standardError == trace.warning)

        let extract = try scratch.run("extract", trace.name, "-o", "maps")
        #expect(extract.exitCode == 13)
        #expect(extract.standardOutput.isEmpty)
        #expect(extract.standardError.contains("the trace is truncated: the block at byte 0 is incomplete"))

        for arguments in [["analyze"], ["diff", "--snapshot", "0"], ["replay", "--state", "0"]] {
            let run = try runMapsrace([arguments[0], trace.name] + arguments.dropFirst(), in: scratch.path)
            #expect(run.standardOutput.isEmpty)
            #expect(run.exitCode == 13, "\(arguments[0]): \(run.standardError)")
            #expect(run.standardError.contains("the trace is truncated"))
        }
    }
}

// MARK: - Not a trace, no file, a damaged file

/// The five commands that read a trace, each with whatever else it needs.
enum TraceCommand: String, CaseIterable, CustomTestStringConvertible {
    case analyze, info, diff, replay, extract

    func arguments(_ trace: String) -> [String] {
        switch self {
        case .analyze, .info: [rawValue, trace]
        case .diff: [rawValue, trace, "--snapshot", "0"]
        case .replay: [rawValue, trace, "--state", "0"]
        case .extract: [rawValue, trace, "-o", "extracted"]
        }
    }


    var testDescription: String { rawValue }
}

/// Files that are not mapsrace traces, and what the reader says of each.
enum NotATrace: String, CaseIterable, CustomTestStringConvertible {
    case text, randomBytes, empty, zstdOfAFile, zstdOfAStream

    /// Makes the file in `scratch`; its name.
    fileprivate func make(in scratch: Scratch) throws -> String {
        let name = rawValue + ".mrtrace"
        switch self {
        case .text:
            try scratch.write(Array("7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n".utf8), to: name)
        case .randomBytes:
            try scratch.write(pseudoRandomBytes(count: 4096, seed: 0x6d61_7073), to: name)
        case .empty:
            try scratch.write([], to: name)
        case .zstdOfAFile:
            // zstd records a file's size in its frame header, like a trace block.
            try scratch.write(Array((1...5000).map { "\($0)\n" }.joined().utf8), to: "numbers.txt")
            try runTool("/usr/bin/zstd", ["-q", "numbers.txt", "-o", name], in: scratch.path)
        case .zstdOfAStream:
            // From a pipe it cannot: the frame has no content size.
            try runTool("/bin/sh", ["-c", "printf 'not a trace\\n' | /usr/bin/zstd -q -o \(name)"], in: scratch.path)
        }
        return name
    }

    func reason(_ name: String) -> String {
        switch self {
        case .text, .randomBytes: "\(name): not a mapsrace trace: it does not start with a zstd frame."
        case .empty: "\(name): not a mapsrace trace: it is empty."
        case .zstdOfAFile: "\(name): not a mapsrace trace: its first block does not start with \"MAPSRACE\"."
        case .zstdOfAStream: "\(name): not a mapsrace trace: a zstd frame that does not record its content size."
        }
    }

    var testDescription: String { rawValue }
}

@Suite("Command line: not a trace, no trace, a damaged trace")
struct BadTraceInputCommandLine {
    @Test(arguments: NotATrace.allCases, TraceCommand.allCases)
    func notATraceExits11(_ input: NotATrace, _ command: TraceCommand) throws {
        let scratch = try Scratch()
        let name = try input.make(in: scratch)
        let run = try scratch.run(command.arguments(name))
        expectFailure(run, exit: 11, saying: [input.reason(name)])
        if command == .extract {
            #expect(!scratch.exists("extracted"))
        }
    }

    @Test(arguments: TraceCommand.allCases)
    func aMissingFileExits10NamingIt(_ command: TraceCommand) throws {
        let scratch = try Scratch()
        let run = try scratch.run(command.arguments("no-such.mrtrace"))
        expectFailure(run, exit: 10, saying: ["no-such.mrtrace: No such file or directory (errno 2)."])
        #expect(!scratch.exists("extracted"))
    }

    @Test(arguments: TraceCommand.allCases)
    func aDirectoryExits10(_ command: TraceCommand) throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("traces.mrtrace"), withIntermediateDirectories: false)
        let run = try scratch.run(command.arguments("traces.mrtrace"))
        expectFailure(run, exit: 10, saying: ["traces.mrtrace: Is a directory (errno 21)."])
    }

    /// One byte flipped in the committed torn trace (two blocks; block 0 is
    /// bytes 0 to 138260), and what zstd makes of it: at the file's middle
    /// the frame no longer decodes; at byte 50000 it decodes to other bytes
    /// that fail the frame's content checksum. Both are exit 14.
    @Test(arguments: [
        (72_967, "block 0 (at byte 0) is corrupt: Data corruption detected."),
        (50_000, "block 0 (at byte 0) fails its content checksum: the trace is corrupt from there on."),
    ], TraceCommand.allCases)
    func aFlippedByteExits14(_ flip: (offset: Int, reason: String), _ command: TraceCommand) throws {
        let scratch = try Scratch()
        var contents = try bytes(of: CommittedTrace.torn)
        contents[flip.offset] ^= 0xff
        try scratch.write(contents, to: "flipped.mrtrace")
        let run = try scratch.run(command.arguments("flipped.mrtrace"))
        expectFailure(run, exit: 14, saying: [flip.reason])
        #expect(run.standardError.hasPrefix("mapsrace: error: flipped.mrtrace: "))
    }
}

// MARK: - replay and diff

@Suite("Command line: replay and diff")
struct ReplayAndDiffCommandLine {
    let analysis: TraceAnalysis
    let trace: LoadedTrace

    init() throws {
        analysis = try TraceAnalysis(.file(CommittedTrace.torn))
        trace = try LoadedTrace(path: CommittedTrace.torn)
    }

    var validRange: String {
        "the trace's model covers states \(analysis.truth.baseState) (its initial quiescent maps) "
            + "to \(analysis.truth.finalState) (every mutation applied)"
    }

    @Test func replayOfTheFinalStateIsTheFinalQuiescentRead() throws {
        let scratch = try Scratch()
        let final = try #require(trace.quiescent(.final))
        let run = try scratch.run("replay", CommittedTrace.torn, "--state", String(analysis.truth.finalState))
        expectQuietSuccess(run)
        expectSameBytes(Array(run.standardOutput.utf8), final.text, "replay at the final state")
    }

    @Test func replayOfAStateOutsideTheModelExits31WithTheRange() throws {
        let scratch = try Scratch()
        for state in [analysis.truth.baseState - 1, analysis.truth.finalState + 1] {
            let run = try scratch.run("replay", CommittedTrace.torn, "--state", String(state))
            expectFailure(run, exit: 31, saying: ["state \(state) cannot be replayed: \(validRange)"])
        }
    }

    @Test func replayTakesOneOfStateAndTime() throws {
        let scratch = try Scratch()
        let both = try scratch.run("replay", CommittedTrace.torn, "--state", "3000", "--time", "1000")
        expectFailure(both, exit: 64, saying: ["give exactly one of --state J and --time NS"])
        let neither = try scratch.run("replay", CommittedTrace.torn)
        expectFailure(neither, exit: 64, saying: ["give exactly one of --state J and --time NS"])
    }

    @Test func diffNeedsASnapshot() throws {
        let scratch = try Scratch()
        let run = try scratch.run("diff", CommittedTrace.torn)
        expectFailure(run, exit: 64, saying: ["Missing expected argument '--snapshot <snapshot>'"])
    }

    @Test func diffOutsideTheTraceExits31() throws {
        let scratch = try Scratch()
        let state = analysis.truth.finalState + 1
        let badState = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "0", "--state", String(state))
        expectFailure(badState, exit: 31, saying: ["state \(state) cannot be replayed: \(validRange)"])
        let badSnapshot = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "4")
        expectFailure(badSnapshot, exit: 31, saying: ["snapshot 4 is not in the trace: it has snapshots 0 to 3"])
    }

    @Test func diffOfATornSnapshotMarksReadsAndHunks() throws {
        let scratch = try Scratch()
        let run = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "0", "--color", "never")
        expectQuietSuccess(run)
        let lines = run.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first?.hasPrefix("--- reconstructed maps at state ") == true)
        #expect(lines.dropFirst().first?.hasPrefix("+++ observed snapshot 0: ") == true)
        #expect(lines.contains { $0.hasPrefix("@@ -") && $0.hasSuffix(" @@") })
        #expect(lines.contains { $0.hasPrefix("## read ") && $0.contains(": bytes ") })
        // A torn snapshot shows lines of a later epoch than the first.
        #expect(lines.contains { $0.hasPrefix("+") && $0.hasSuffix("[epoch 1]") })
        #expect(!run.standardOutput.contains("\u{1B}"))
    }

    @Test func colorAlwaysAddsEscapeSequencesAndNothingElse() throws {
        let scratch = try Scratch()
        let plain = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "0", "--color", "never")
        let colored = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "0", "--color", "always")
        expectQuietSuccess(colored)
        #expect(colored.standardOutput.contains("\u{1B}["))
        #expect(withoutEscapeSequences(colored.standardOutput) == plain.standardOutput)
        // stdout is a file here, so auto means no colour.
        let auto = try scratch.run("diff", CommittedTrace.torn, "--snapshot", "0")
        #expect(auto.standardOutput == plain.standardOutput)
    }
}

/// `text` without its ANSI CSI sequences (ESC [ parameters final-byte).
private func withoutEscapeSequences(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    var scalars = text.unicodeScalars.makeIterator()
    while let scalar = scalars.next() {
        guard scalar == "\u{1B}" else { out.append(scalar); continue }
        guard scalars.next() == "[" else { continue }
        while let next = scalars.next(), !(0x40...0x7E).contains(next.value) {}
    }
    return String(out)
}

// MARK: - count-rw

@Suite("Command line: count-rw")
struct CountRWCommandLine {
    /// One read-write page and one read-only page in [0x7f0000000000, 0x7f0000002000).
    static let maps = """
        7f0000000000-7f0000001000 rw-p 00000000 00:00 0
        7f0000001000-7f0000002000 r--p 00000000 00:00 0

        """
    static let range = ["--range", "7f0000000000", "7f0000002000"]

    fileprivate func scratchWithMaps() throws -> Scratch {
        let scratch = try Scratch()
        try scratch.write(Array(Self.maps.utf8), to: "good.maps")
        return scratch
    }

    @Test func countsTheReadWritePagesOfEachFile() throws {
        let scratch = try scratchWithMaps()
        let run = try scratch.run(["count-rw", "good.maps", "good.maps"] + Self.range)
        expectQuietSuccess(run)
        #expect(run.standardOutput == "1\n1\n")
    }

    @Test func anUnreadableFileExits30NamingIt() throws {
        let scratch = try scratchWithMaps()
        let missing = try scratch.run(["count-rw", "good.maps", "gone.maps"] + Self.range)
        expectFailure(missing, exit: 30, saying: ["gone.maps: No such file or directory"], stdoutEmpty: false)
        #expect(missing.standardOutput == "1\n")  // the file before it was counted
        try FileManager.default.createDirectory(atPath: scratch.file("dir.maps"), withIntermediateDirectories: false)
        let directory = try scratch.run(["count-rw", "dir.maps"] + Self.range)
        expectFailure(directory, exit: 30, saying: ["dir.maps: Is a directory"])
    }

    @Test func aMalformedLineExits30WithLineAndColumn() throws {
        let scratch = try scratchWithMaps()
        try scratch.write(Array("7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n7f0000001000-zz r--p 00000000 00:00 0\n".utf8), to: "bad.maps")
        let run = try scratch.run(["count-rw", "good.maps", "bad.maps"] + Self.range)
        expectFailure(run, exit: 30, saying: ["bad.maps: line 2, column 14: expected end address in hex"], stdoutEmpty: false)
        #expect(run.standardOutput == "1\n")
    }

    @Test(arguments: [["7f0000002000", "7f0000000000"], ["7f0000001000", "7f0000001000"]])
    func aRangeThatEndsWhereItStartsOrBeforeIsAUsageError(_ bounds: [String]) throws {
        let scratch = try scratchWithMaps()
        let run = try scratch.run(["count-rw", "good.maps", "--range"] + bounds)
        expectFailure(run, exit: 64, saying: ["--range START must be below END."])
    }
}

// MARK: - record and survey

@Suite("Command line: record and survey refuse what they cannot do")
struct RecordAndSurveyCommandLine {
    @Test func tooFewPagesIsAUsageError() throws {
        let scratch = try Scratch()
        let run = try scratch.run("record", "--pages", "0", "-o", "t.mrtrace")
        expectFailure(run, exit: 64, saying: ["--pages must be at least 2 for rolling"])
        #expect(!scratch.exists("t.mrtrace"))
    }

    @Test func anArenaOverTheMapCountExits20() throws {
        let scratch = try Scratch()
        let limitText = readText("/proc/sys/vm/max_map_count").trimmingCharacters(in: .whitespacesAndNewlines)
        let limit = try #require(Int(limitText))
        let pages = max(70_000, limit + 1_000)  // 70000 against the default 65530
        let run = try scratch.run("record", "--pages", String(pages), "-o", "t.mrtrace")
        expectFailure(run, exit: 20, saying: [
            "an arena of \(pages) pages needs about ", "but vm.max_map_count is \(limit)", "sysctl vm.max_map_count=",
        ])
        #expect(!scratch.exists("t.mrtrace"))
    }

    @Test func anUnknownReaderIsAUsageErrorListingEveryReader() throws {
        let scratch = try Scratch()
        let run = try scratch.run("record", "--reader", "bogus", "-o", "t.mrtrace")
        expectFailure(run, exit: 64, saying: ["invalid reader strategy 'bogus': expected "])
        for name in ReaderStrategy.names {
            let spelling = name.split(separator: "[").first.map(String.init) ?? name  // retry-stable[:N]
            #expect(run.standardError.contains(spelling), "\(spelling) not listed")
        }
    }

    @Test func maxAttemptsWithAnotherReaderIsAUsageError() throws {
        let scratch = try Scratch()
        let run = try scratch.run("record", "--max-attempts", "5", "--reader", "chromium", "-o", "t.mrtrace")
        expectFailure(run, exit: 64, saying: ["--max-attempts applies only to --reader retry-stable (got --reader chromium)"])
    }

    @Test func anUnwritableTraceExits22BeforeRecording() throws {
        let scratch = try Scratch()
        let target = scratch.file("no-such-dir/x.mrtrace")
        let run = try scratch.run("record", "--pages", "300", "--snapshots", "2", "-o", target)
        // Nothing on stdout: no recording summary, because nothing was recorded.
        expectFailure(run, exit: 22, saying: [
            "cannot write the trace to \(target): No such file or directory (errno 2).",
        ])
        #expect(!scratch.exists("no-such-dir"))
    }

    /// --dir under a regular file cannot be made by anyone, root included;
    /// an existing directory with files in it is refused too.
    @Test func surveyWithADirectoryItCannotUseExits22() throws {
        let scratch = try Scratch()
        try scratch.write(Array("keep\n".utf8), to: "afile")
        let tiny = ["--repeat", "1", "--pages", "300", "--snapshots", "1", "--workloads", "rolling", "--readers", "chromium"]
        for (directory, reason) in [("afile/survey", "Not a directory"), (".", "it exists and is not empty")] {
            let run = try scratch.run(["survey", "--dir", directory] + tiny)
            #expect(run.exitCode == 22, "stderr: \(run.standardError)")
            #expect(run.standardOutput.isEmpty)
            let lines = run.standardError.split(separator: "\n")
            #expect(lines.first?.hasPrefix("mapsrace: survey of 1 cell(s) × 1 recording(s)") == true)
            #expect(lines.last == "mapsrace: error: cannot use \(directory) for the survey: \(reason)")
        }
        #expect(readText(scratch.file("afile")) == "keep\n")
        #expect(!scratch.exists("survey.json") && !scratch.exists("rolling-chromium-r0.mrtrace"))
    }
}

// MARK: - help

@Suite("Command line: help")
struct HelpCommandLine {
    /// Each subcommand with every option its help must name.
    static let options: [(command: String, options: [String])] = [
        ("record", ["--workload", "--pages", "--no-noreserve", "--seed", "--reader", "--max-attempts", "--snapshots",
                    "--output", "--no-log", "--json"]),
        ("survey", ["--repeat", "--workloads", "--readers", "--pages", "--snapshots", "--seed", "--dir", "--json", "--markdown"]),
        ("analyze", ["--json", "--snapshot", "--brief", "--fail-on-anomaly"]),
        ("diff", ["--snapshot", "--state", "--time", "--context", "--color"]),
        ("replay", ["--state", "--time"]),
        ("info", ["--json"]),
        ("extract", ["--output", "--snapshot"]),
        ("count-rw", ["--range", "--format", "--page-size"]),
    ]

    @Test(arguments: options.map(\.command))
    func helpExitsZeroNamingEveryOption(_ command: String) throws {
        let scratch = try Scratch()
        let run = try scratch.run(command, "--help")
        expectQuietSuccess(run)
        #expect(run.standardOutput.contains("USAGE: mapsrace \(command)"))
        let expected = try #require(Self.options.first { $0.command == command }).options
        for option in expected + ["--help"] {
            #expect(run.standardOutput.contains(option), "\(command) --help does not name \(option)")
        }
    }

    @Test func theRootHelpListsEverySubcommand() throws {
        let scratch = try Scratch()
        let run = try scratch.run("--help")
        expectQuietSuccess(run)
        for command in Self.options.map(\.command) {
            #expect(run.standardOutput.contains("\n  \(command) "), "\(command) not listed")
        }
        #expect(!run.standardOutput.contains("_reader") && !run.standardOutput.contains("_synth-trace"))
    }
}
