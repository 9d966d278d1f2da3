import Foundation
import MapsAnalysis
import MapsTestSupport
import MapsTrace
import Testing

@testable import MapsReport

/// The report of a small recorded trace, opened in a real browser
/// (Debian's chromium, headless): it loads without a console message, the
/// script ran to its end, the sections and anomaly markers are in the
/// rendered DOM, and a screenshot shows drawn canvases.
@Suite("mapsrace report in a real browser", .serialized)
struct BrowserTests {
    static let trace = "rolling-chromium-4000p-seed2"

    /// The page and the analysis it shows, written to a fresh directory.
    func writeReport(options: HTMLReport.Options = .init(toolVersion: "test")) throws -> (path: String, directory: String, report: AnalysisReport) {
        let directory = try makeTemporaryDirectory("report")
        let page = try HTMLReport(analysis: TraceAnalysis(.file(samplePath(Self.trace))), options: options)
        let path = directory + "/report.html"
        try writeOutput(Array(page.html.utf8), to: path)
        return (path, directory, try #require(page.report))
    }

    func chromium(_ arguments: [String], directory: String) throws -> ProcessRun {
        try ProcessRun.run(
            [try chromiumPath(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--user-data-dir=\(directory)/profile", "--enable-logging=stderr", "--v=0"] + arguments,
            in: directory)
    }

    @Test func loadsWithoutConsoleMessagesAndShowsEverySectionAndMarker() throws {
        let (path, directory, report) = try writeReport()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try chromium(["--dump-dom", "file://" + path], directory: directory)
        #expect(run.exitCode == 0, "chromium: \(run.standardError.suffix(2000))")
        let dom = run.standardOutput
        // No console message at all (errors, CSP violations from a request).
        let console = run.standardError.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        #expect(console.isEmpty, "console: \(console)")
        #expect(dom.contains("data-ready=\"yes\""), "the page script did not run to its end")
        #expect(!dom.contains("data-page-errors=\""))

        for section in ["summary", "snapshots"] + report.snapshots.map({ "snapshot-\($0.index)" }) {
            #expect(dom.contains("id=\"\(section)\""), "no section \(section)")
        }
        // Every snapshot row links to its section.
        for snapshot in report.snapshots {
            #expect(dom.contains("<a href=\"#snapshot-\(snapshot.index)\">\(snapshot.index)</a>"))
        }
        // One timeline marker and one strip marker per anomaly, each with its
        // kind as a class, a glyph and a label; one details entry each.
        #expect(report.totals.raceAnomalies > 5)
        for kind in AnomalyKind.allCases {
            let expected = report.totals[kind]
            #expect(dom.components(separatedBy: "anomaly-marker kind-\(kind.rawValue)\"").count - 1 == expected, "\(kind)")
            #expect(dom.components(separatedBy: "strip-marker kind-\(kind.rawValue)\"").count - 1 == expected, "\(kind)")
            #expect(dom.components(separatedBy: "<details class=\"anomaly kind-\(kind.rawValue)\"").count - 1 == expected)
        }
        // The verdict and guarantee checks as analyze words them.
        #expect(dom.contains("\(report.snapshotCount) snapshot(s): \(report.consistentSnapshots) consistent"))
        #expect(dom.contains("no two lines overlap (addresses never go backwards)"))
        // Every anomaly's details carry its culprits and a diff excerpt.
        #expect(dom.components(separatedBy: "<pre class=\"diff\">").count - 1 == report.totals.raceAnomalies)
        #expect(dom.contains("<ins>+"))
    }

    @Test func anAnomalysLinkOpensItsDetailsAndHighlightsItsMarkers() throws {
        let (path, directory, report) = try writeReport()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let snapshot = try #require(report.snapshots.first { $0.anomalies.count > 2 })
        let id = "s\(snapshot.index)-a2"
        // What a click on its marker does: the page is opened at the anomaly's anchor.
        let run = try chromium(["--dump-dom", "file://" + path + "#" + id], directory: directory)
        #expect(run.exitCode == 0)
        let dom = run.standardOutput
        let kind = snapshot.anomalies[2].kind.rawValue
        #expect(dom.contains("<details class=\"anomaly kind-\(kind) selected\" id=\"\(id)\" data-kind=\"\(kind)\" open=\"\">"))
        #expect(dom.components(separatedBy: "kind-\(kind) selected\" data-kind=\"\(kind)\" data-target=\"\(id)\"").count - 1 == 2)
        // Only that one is open.
        #expect(dom.components(separatedBy: "open=\"\"").count - 1 == 1)
        // Its details hold the boundary and the culprits analyze names.
        let boundary = snapshot.anomalies[2].boundary
        #expect(dom.contains("Boundary: read \(boundary.beforeRead) → read \(boundary.afterRead), byte \(boundary.byteOffset), line \(boundary.line)."))
    }

    @Test func theScreenshotShowsDrawnTimelinesAndStrips() throws {
        let (path, directory, _) = try writeReport()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let shot = directory + "/shot.png"
        let run = try chromium(
            ["--hide-scrollbars", "--window-size=1280,1600", "--screenshot=\(shot)", "file://" + path], directory: directory)
        #expect(run.exitCode == 0, "chromium: \(run.standardError.suffix(2000))")
        let stats = try ProcessRun.run(
            ["python3", repositoryRoot + "/tools/png-stats.py", shot, "#0072b2", "#009e73", "#3d3d3d"], in: directory)
        #expect(stats.exitCode == 0, "\(stats.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(stats.standardOutput.utf8)) as? [String: Any]
        let numbers = try #require(object)
        #expect(numbers["width"] as? Int == 1280)
        #expect(numbers["height"] as? Int == 1600)
        #expect((numbers["distinct_colours"] as? Int ?? 0) > 50)
        #expect((numbers["non_background_fraction"] as? Double ?? 0) > 0.05)
        // Canvas content: epoch 0's and epoch 2's colours and the dark read bars.
        let colours = try #require(numbers["colours"] as? [String: Int])
        #expect((colours["#0072b2"] ?? 0) > 500, "epoch 0 band missing: \(colours)")
        #expect((colours["#009e73"] ?? 0) > 500, "epoch 2 band missing: \(colours)")
        #expect((colours["#3d3d3d"] ?? 0) > 500, "read bars missing: \(colours)")
    }

    @Test func thePageIsSelfContained() throws {
        let (path, directory, _) = try writeReport()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let html = try String(contentsOfFile: path, encoding: .utf8)
        // No external anything: no URL, no src attribute, a CSP that forbids requests.
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(!html.contains(" src="))
        #expect(html.contains("default-src 'none'"))
        #expect(html.utf8.count < 1 << 20)
    }

    @Test func surveyCellsLinkToTheReportsThatExist() throws {
        let directory = try makeTemporaryDirectory("survey")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Two cells; only the first one's trace has a report beside it.
        let reported = directory + "/rolling-chromium-r0"
        let document = """
            {"kernel_release": "6.18.0", "machine": "x86_64", "directory": "\(directory)",
             "command": "mapsrace survey --repeat 1", "cells": [
              {"workload": "rolling", "reader": "chromium", "recordings": 1, "snapshots": 4,
               "consistent_percent": 25.0,
               "anomalies_per_100": {"duplicated": 0, "missing": 0, "torn": 425, "intra_read": 25, "phantom": 0},
               "no_overlap_violations": 0, "complete_coverage_violations": 0, "median_snapshot_ns": 1200000,
               "model_validated": true,
               "traces": [{"repetition": 0, "trace": "\(reported).mrtrace"}], "failures": []},
              {"workload": "rolling", "reader": "pmap", "recordings": 1, "snapshots": 0,
               "consistent_percent": null,
               "anomalies_per_100": {"duplicated": 0, "missing": 0, "torn": 0, "intra_read": 0, "phantom": 0},
               "no_overlap_violations": 0, "complete_coverage_violations": 0, "median_snapshot_ns": null,
               "model_validated": false,
               "traces": [{"repetition": 0, "trace": "\(directory)/rolling-pmap-r0.mrtrace"}],
               "failures": [{"repetition": 1, "message": "reader failed"}]}]}
            """
        try writeOutput(Array(document.utf8), to: directory + "/survey.json")
        try writeOutput(Array("<!DOCTYPE html><title>r0</title>".utf8), to: reported + ".html")
        let overview = try SurveyOverview.load(path: directory + "/survey.json")
        let page = try HTMLReport(
            analysis: nil,
            options: .init(survey: overview, surveyPath: directory + "/survey.json",
                           outputPath: directory + "/survey.html", toolVersion: "test"))
        #expect(page.html.contains("<a href=\"rolling-chromium-r0.html\">r0</a>"))
        #expect(!page.html.contains("rolling-pmap-r0.html"))
        #expect(page.html.contains("FAILED 1"))
        #expect(page.html.contains("<td>25.00%</td>"))
        #expect(page.html.contains("<td>425.00</td>"))
        #expect(page.report == nil)

        try writeOutput(Array("{\"cells\": 3}".utf8), to: directory + "/bad.json")
        #expect(throws: ReportError.self) { try SurveyOverview.load(path: directory + "/bad.json") }
        #expect(throws: ReportError.self) { try SurveyOverview.load(path: directory + "/absent.json") }
    }

    @Test func onlyTheChosenSnapshotsGetSections() throws {
        let page = try HTMLReport(
            analysis: TraceAnalysis(.file(samplePath(Self.trace))), options: .init(snapshots: [2], toolVersion: "test"))
        #expect(page.html.contains("id=\"snapshot-2\""))
        #expect(!page.html.contains("id=\"snapshot-1\"") && !page.html.contains("id=\"snapshot-3\""))
        // The table still lists every snapshot; only 2 links.
        #expect(page.html.contains("<a href=\"#snapshot-2\">2</a>") && !page.html.contains("href=\"#snapshot-1\""))
        #expect(page.report?.snapshotCount == 4)
    }
}
