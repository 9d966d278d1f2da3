// `mapsrace report` and `mapsrace export` run as a user runs them: what they
// write, their exit codes on bad input (README, "### Exit status"), and their
// progress line (only on a terminal).

import Foundation
import MapsTestSupport
import MapsTrace
import Testing

/// A directory holding a copy of the committed torn trace as `t.mrtrace`.
private final class ReportScratch {
    let path: String

    init() throws {
        path = try makeTemporaryDirectory("report")
        let source = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("traces/rolling-chromium-4000p-seed2.mrtrace")
        try FileManager.default.copyItem(atPath: source.path, toPath: path + "/t.mrtrace")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
    func run(_ arguments: String...) throws -> MapsraceRun { try runMapsrace(arguments, in: path) }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
}

@Suite("Command line: report and export")
struct ReportCommandLine {
    @Test func reportWritesThePageBesideTheTraceAndSaysSoOnly() throws {
        let scratch = try ReportScratch()
        let run = try scratch.run("report", "t.mrtrace")
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.standardOutput.isEmpty)
        let page = try String(contentsOfFile: scratch.file("t.html"), encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.hasSuffix("</html>\n"))
        #expect(page.contains("id=\"snapshot-3\""))
        // stderr is not a terminal: one line saying what was written, no progress.
        #expect(run.standardError == "mapsrace: wrote t.html (\(page.utf8.count) bytes)\n")
        #expect(!scratch.exists("t.html.partial"))
    }

    @Test func reportToStandardOutput() throws {
        let scratch = try ReportScratch()
        let run = try scratch.run("report", "t.mrtrace", "-o", "-", "--snapshot", "1", "--snapshot", "2")
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.standardError.isEmpty)
        #expect(run.standardOutput.contains("id=\"snapshot-1\"") && run.standardOutput.contains("id=\"snapshot-2\""))
        #expect(!run.standardOutput.contains("id=\"snapshot-0\""))
    }

    @Test func reportOfASnapshotNotInTheTraceExits31() throws {
        let scratch = try ReportScratch()
        let run = try scratch.run("report", "t.mrtrace", "--snapshot", "9")
        #expect(run.exitCode == 31)
        #expect(run.standardError == "mapsrace: error: t.mrtrace: snapshot 9 is not in the trace: it has snapshots 0 to 3\n")
        #expect(!scratch.exists("t.html"))
    }

    @Test func reportAndExportOfBadInput() throws {
        let scratch = try ReportScratch()
        try Data("hello, not a trace\n".utf8).write(to: URL(fileURLWithPath: scratch.file("text.mrtrace")))
        for command in ["report", "export"] {
            let notATrace = try scratch.run(command, "text.mrtrace", "-o", "out")
            #expect(notATrace.exitCode == 11, "\(command): \(notATrace.standardError)")
            #expect(notATrace.standardError.hasPrefix("mapsrace: error: text.mrtrace: "))
            let missing = try scratch.run(command, "absent.mrtrace", "-o", "out")
            #expect(missing.exitCode == 10, "\(command): \(missing.standardError)")
            #expect(missing.standardError.hasPrefix("mapsrace: error: absent.mrtrace: "))
            let unwritable = try scratch.run(command, "t.mrtrace", "-o", "no/such/dir/out")
            #expect(unwritable.exitCode == 22, "\(command): \(unwritable.standardError)")
            #expect(unwritable.standardError == "mapsrace: error: no/such/dir/out: cannot write: No such file or directory\n")
            #expect(!scratch.exists("out"))
        }
        #expect(try scratch.run("export", "t.mrtrace", "--format", "svg").exitCode == 64)
        #expect(try scratch.run("report").exitCode == 64)
        let survey = try scratch.run("report", "--survey", "absent.json")
        #expect(survey.exitCode == 10)
        #expect(survey.standardError.hasPrefix("mapsrace: error: absent.json: cannot use the survey: "))
    }

    @Test func exportToStandardOutputHasEveryReadAndMutation() throws {
        let scratch = try ReportScratch()
        let run = try scratch.run("export", "t.mrtrace", "--format", "chrome-json")
        #expect(run.exitCode == 0 && run.standardError.isEmpty, "stderr: \(run.standardError)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        let analysis = try scratch.run("analyze", "t.mrtrace", "--json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(analysis.standardOutput.utf8)) as? [String: Any])
        let snapshots = try #require(report["snapshots"] as? [[String: Any]])
        let reads = snapshots.compactMap { $0["reads"] as? Int }.reduce(0, +)
        #expect(events.filter { $0["ph"] as? String == "X" && $0["cat"] as? String == "read" }.count == reads)
        #expect(events.filter { $0["ph"] as? String == "X" && $0["cat"] as? String == "mutation" }.count
            == report["mutations"] as? Int)
    }

    @Test func aCutTraceIsReportedThenExits13() throws {
        let scratch = try ReportScratch()
        let whole = try Data(contentsOf: URL(fileURLWithPath: scratch.file("t.mrtrace")))
        try whole.prefix(whole.count * 9 / 10).write(to: URL(fileURLWithPath: scratch.file("cut.mrtrace")))
        for command in ["report", "export"] {
            let run = try scratch.run(command, "cut.mrtrace", "-o", "cut.out")
            #expect(run.exitCode == 13, "\(command): \(run.standardError)")
            #expect(run.standardError.contains("cut.mrtrace: the trace is truncated"))
        }
    }

    @Test func aSurveysTableLinksTheReportsMadeOfItsTraces() throws {
        let scratch = try ReportScratch()
        let survey = try scratch.run(
            "survey", "--repeat", "2", "--workloads", "rolling", "--readers", "chromium", "--pages", "300",
            "--snapshots", "2", "--dir", "sv")
        #expect(survey.exitCode == 0, "stderr: \(survey.standardError)")
        #expect(try scratch.run("report", "sv/rolling-chromium-r0.mrtrace").exitCode == 0)
        #expect(scratch.exists("sv/rolling-chromium-r0.html"))
        // Survey alone: survey.html beside survey.json, linking r0's report only.
        let alone = try scratch.run("report", "--survey", "sv/survey.json")
        #expect(alone.exitCode == 0, "stderr: \(alone.standardError)")
        let page = try String(contentsOfFile: scratch.file("sv/survey.html"), encoding: .utf8)
        #expect(page.contains("<a href=\"rolling-chromium-r0.html\">r0</a>"))
        #expect(!page.contains("rolling-chromium-r1.html"))
        // With a trace, written elsewhere: the link is relative to the page.
        let both = try scratch.run("report", "t.mrtrace", "--survey", "sv/survey.json", "-o", "both.html")
        #expect(both.exitCode == 0, "stderr: \(both.standardError)")
        let combined = try String(contentsOfFile: scratch.file("both.html"), encoding: .utf8)
        #expect(combined.contains("<a href=\"sv/rolling-chromium-r0.html\">r0</a>"))
        #expect(combined.contains("id=\"survey\"") && combined.contains("id=\"snapshot-0\""))
    }

    @Test func progressOnATerminalOnly() throws {
        let scratch = try ReportScratch()
        let binary = try #require(MapsraceBinary.path)
        // `script` gives the command a terminal; the delay is set to 0 so
        // this small trace shows its progress.
        for command in ["report t.mrtrace -o p.html", "export t.mrtrace -o p.json", "analyze t.mrtrace --brief"] {
            let line = "cd \(scratch.path) && \(binary) \(command) --test-progress-after-ms 0 >/dev/null"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", line, "/dev/null"]
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(command): \(text)")
            #expect(text.contains("snapshot 4/4 analysed"), "\(command): \(text)")
            #expect(text.contains("\r\u{1B}[K"), "\(command): the line is not rewritten in place")
            // Without a terminal: not a byte of progress.
            let quiet = try runMapsrace(
                command.split(separator: " ").map(String.init) + ["--test-progress-after-ms", "0"], in: scratch.path)
            #expect(quiet.exitCode == 0)
            #expect(!quiet.standardError.contains("\u{1B}") && !quiet.standardError.contains("analysed"))
        }
    }
}
