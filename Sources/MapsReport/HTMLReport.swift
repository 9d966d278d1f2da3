#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MapsAnalysis
import MapsModel
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// One self-contained HTML page: the analysis of a trace (and/or a survey's
/// table) as text, tables and pictures. Everything is inline (styles,
/// script, data): the page makes no network request. The text is HTML the
/// browser lays out without any script; the script only draws the
/// timelines and address strips on canvases and adds hovering.
public struct HTMLReport {
    public struct Options: Sendable {
        /// Snapshots that get a section (nil: every one).
        public var snapshots: Set<Int>?
        public var survey: SurveyOverview?
        /// Where the survey's JSON is, to find its traces' reports.
        public var surveyPath: String?
        /// Where the page will be written, to link the survey's reports relative to it.
        public var outputPath: String?
        public var toolVersion: String

        public init(snapshots: Set<Int>? = nil, survey: SurveyOverview? = nil, surveyPath: String? = nil,
                    outputPath: String? = nil, toolVersion: String) {
            self.snapshots = snapshots
            self.survey = survey
            self.surveyPath = surveyPath
            self.outputPath = outputPath
            self.toolVersion = toolVersion
        }
    }

    public private(set) var html = ""
    /// The analysis the page shows (nil for a survey-only page).
    public private(set) var report: AnalysisReport?

    /// Analyses the trace (when given) and renders the page. `progress`
    /// hears each analysed snapshot.
    public init(
        analysis: TraceAnalysis?, options: Options, progress: @escaping (Int, Int) -> Void = { _, _ in }
    ) throws(AnalysisError) {
        var page = Page()
        let title: String
        if let analysis {
            title = "mapsrace report: \(analysis.context.source.name)"
        } else {
            title = "mapsrace survey"
        }
        page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        // No request of any kind: not even a favicon.
        page.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n")
        page.raw("<link rel=\"icon\" href=\"data:,\">\n")
        page.raw("<title>\(escape(title))</title>\n<style>\n\(ReportAssets.css)</style>\n</head>\n<body>\n")
        page.raw("<header><h1>\(escape(title))</h1><p class=\"sub\">made by mapsrace \(escape(options.toolVersion)); all data is in this file.</p></header>\n")

        var sections: [(id: String, name: String)] = []
        var body = Page()
        var data: [SnapshotPicture] = []
        if let analysis {
            let wanted = options.snapshots
            let total = analysis.context.snapshotIndexes.count
            var done = 0
            var excerpts: [Int: [AnomalyExcerpt]] = [:]
            let mutations = analysis.context.mutations
            var order = Array(mutations.indices)
            if !zip(mutations, mutations.dropFirst()).allSatisfy({ $0.tBegin <= $1.tBegin }) {
                order.sort { mutations[$0].tBegin < mutations[$1].tBegin }
            }
            let begins = order.map { mutations[$0].tBegin }
            let sequences = order.map { mutations[$0].sequence }
            let report = try analysis.run { verdict in
                let index = verdict.analysis.index
                if wanted == nil || wanted!.contains(index) {
                    let ids = verdict.analysis.anomalies.indices.map { "s\(index)-a\($0)" }
                    data.append(SnapshotPicture(
                        verdict: verdict, analysis: analysis, mutationBegins: begins, mutationSequences: sequences,
                        anomalyIDs: ids))
                    excerpts[index] = verdict.analysis.anomalies.map {
                        AnomalyExcerpt(anomaly: $0, verdict: verdict, analysis: analysis)
                    }
                }
                done += 1
                progress(done, total)
            }
            self.report = report
            sections.append(("summary", "Summary"))
            Self.summary(report, analysis: analysis, into: &body)
            sections.append(("snapshots", "Snapshots"))
            Self.snapshotTable(report, shown: Set(data.map(\.index)), into: &body)
            if let survey = options.survey {
                sections.append(("survey", "Survey"))
                Self.surveyTable(survey, options: options, into: &body)
            }
            for picture in data {
                guard let snapshot = report.snapshots.first(where: { $0.index == picture.index }) else { continue }
                sections.append(("snapshot-\(picture.index)", "\(picture.index)"))
                Self.snapshotSection(snapshot, picture: picture, excerpts: excerpts[picture.index] ?? [], into: &body)
            }
        } else if let survey = options.survey {
            sections.append(("survey", "Survey"))
            Self.surveyTable(survey, options: options, into: &body)
        }

        page.raw("<nav aria-label=\"sections\">")
        var labelled = false
        for section in sections {
            if section.id.hasPrefix("snapshot-") && !labelled {
                page.raw("<span class=\"navlabel\">snapshot</span>")
                labelled = true
            }
            page.raw("<a href=\"#\(section.id)\">\(escape(section.name))</a>")
        }
        page.raw("</nav>\n<main>\n")
        page.raw(body.text)
        page.raw("</main>\n<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n")
        page.raw("<script type=\"application/json\" id=\"report-data\">")
        page.raw(Self.json(data))
        page.raw("</script>\n<script>\n\(ReportAssets.script)</script>\n</body>\n</html>\n")
        html = page.text
    }

    static func json(_ pictures: [SnapshotPicture]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(pictures)) ?? Data("[]".utf8)
        // `<` never appears raw inside the script element.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.count)
        for byte in data {
            if byte == UInt8(ascii: "<") { bytes.append(contentsOf: Array("\\u003c".utf8)) } else { bytes.append(byte) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Sections

    static func summary(_ report: AnalysisReport, analysis: TraceAnalysis, into page: inout Page) {
        let header = analysis.context.header
        page.raw("<section id=\"summary\"><h2>Summary</h2>\n<dl class=\"facts\">")
        func fact(_ name: String, _ value: String) {
            page.raw("<dt>\(escape(name))</dt><dd>\(value)</dd>")
        }
        fact("Trace", escape(report.trace) + (report.traceComplete ? "" : " <strong>(incomplete: analysed up to where it was cut)</strong>")
            + (report.interrupted ? " <strong>(recording was interrupted)</strong>" : ""))
        fact("Kernel", escape("\(report.kernelRelease) (\(header.machine))"))
        fact("Workload", escape(report.workload + (report.pages.map { ", \($0) pages" } ?? "")))
        fact("Reader", escape(report.reader))
        fact("Seed", escape("\(report.seed)"))
        fact("Command", "<code>\(escape(recordCommand(header, snapshots: analysis.context.snapshotIndexes.count)))</code>")
        fact("Arena", escape("\(report.arenaStart)-\(report.arenaEnd) · \(report.mutations) mutations"))
        fact("Model", (report.modelValidated ? "validated: " : "<strong>NOT validated</strong>: ") + escape(report.model.detail)
            + report.model.examples.prefix(6).map { "<br><code>\(escape($0))</code>" }.joined())
        page.raw("</dl>\n")
        let unfinished = report.snapshots.filter { !$0.complete && !$0.consistent }.count
        let torn = report.snapshotCount - report.consistentSnapshots - unfinished
        page.raw("<p class=\"verdict\"><strong>\(report.snapshotCount) snapshot(s): \(report.consistentSnapshots) consistent, \(torn) never existed as read")
        page.raw(unfinished > 0 ? ", \(unfinished) not read to the end" : "")
        page.raw(".</strong></p>\n<p class=\"totals\">Anomalies: ")
        let totals = report.totals
        page.raw(AnomalyKind.allCases.map { kind in
            "<span class=\"kind kind-\(kind.rawValue)\"><span class=\"glyph\" aria-hidden=\"true\">\(SnapshotWords.glyph(kind))</span> \(kind.rawValue) \(totals[kind])</span>"
        }.joined(separator: " · "))
        page.raw(" · unmodeled lines outside the arena \(totals.unmodeled)</p>\n")
        page.raw("<table class=\"guarantees\"><caption>Kernel guarantees on \(escape(report.guarantees.kernelRelease))</caption>")
        page.raw("<thead><tr><th>guarantee</th><th>on this trace</th></tr></thead><tbody>")
        for (name, check) in [
            ("no two lines overlap (addresses never go backwards)", report.guarantees.noOverlap),
            ("whatever was mapped throughout appears", report.guarantees.completeCoverage),
        ] {
            page.raw("<tr class=\"\(check.holds ? "held" : "violated")\"><td>\(escape(name))</td><td>\(check.holds ? "✓ " : "✗ ")\(escape(SnapshotWords.guarantee(check)))</td></tr>")
        }
        page.raw("</tbody></table>\n</section>\n")
    }

    static func snapshotTable(_ report: AnalysisReport, shown: Set<Int>, into page: inout Page) {
        page.raw("<section id=\"snapshots\"><h2>Snapshots</h2>\n<table class=\"snapshots\"><thead><tr>")
        page.raw("<th>snapshot</th><th>lines</th><th>reads</th><th>epochs</th><th>rw seen</th><th>rw truth</th><th>verdict</th></tr></thead><tbody>\n")
        for snapshot in report.snapshots {
            let outside = snapshot.rwPagesObserved < snapshot.rwPagesTruthMin || snapshot.rwPagesObserved > snapshot.rwPagesTruthMax
            let name = shown.contains(snapshot.index)
                ? "<a href=\"#snapshot-\(snapshot.index)\">\(snapshot.index)</a>" : "\(snapshot.index)"
            page.raw("<tr class=\"\(snapshot.consistent ? "consistent" : "torn")\"><td>\(name)</td><td>\(snapshot.lines)</td><td>\(snapshot.reads)</td><td>\(snapshot.epochs)</td>")
            page.raw("<td\(outside ? " class=\"never\" title=\"never existed\"" : "")>\(snapshot.rwPagesObserved)\(outside ? " ✗" : "")</td><td>\(SnapshotWords.truthRange(snapshot))</td>")
            page.raw("<td>\(snapshot.consistent ? "✓ " : "")\(escape(SnapshotWords.verdict(snapshot)))</td></tr>\n")
        }
        page.raw("</tbody></table>\n<p class=\"note\">rw seen: read-write arena pages in the snapshot; rw truth: the fewest and most the arena had while it was read (✗: a count that never existed).</p></section>\n")
    }

    static func snapshotSection(
        _ snapshot: SnapshotAnalysis, picture: SnapshotPicture, excerpts: [AnomalyExcerpt], into page: inout Page
    ) {
        let index = snapshot.index
        page.raw("<section class=\"snapshot\" id=\"snapshot-\(index)\" data-snapshot=\"\(index)\">\n")
        page.raw("<h2>Snapshot \(index): \(escape(SnapshotWords.verdict(snapshot)))</h2>\n")
        page.raw("<p>\(snapshot.lines) lines in \(snapshot.reads) reads, \(snapshot.epochs) epoch(s), read from \(escape(SnapshotWords.milliseconds(picture.beginNs))) for \(escape(ReportText.milliseconds(picture.spanNs))); \(picture.mutationCount) mutation(s) began meanwhile")
        if picture.firstMutation >= 0 { page.raw(" (#\(picture.firstMutation) to #\(picture.lastMutation))") }
        page.raw("; states \(snapshot.stateLo)..\(snapshot.stateHi) possible; rw pages seen \(snapshot.rwPagesObserved), truth \(SnapshotWords.truthRange(snapshot)).</p>\n")

        // Timeline: lanes drawn on the canvas, anomaly markers as links over it.
        page.raw("<h3>Timeline</h3>\n<div class=\"timeline\" data-snapshot=\"\(index)\">")
        page.raw("<div class=\"lanes\" aria-hidden=\"true\"><span style=\"top:4px\">epochs</span><span style=\"top:40px\">reads</span><span style=\"top:76px\">mutations</span><span style=\"top:116px\">anomalies</span></div>")
        page.raw("<div class=\"plot\"><canvas class=\"timeline-canvas\" height=\"150\" aria-label=\"timeline of snapshot \(index)\"></canvas>")
        let span = Double(max(picture.spanNs, 1))
        for mark in picture.anomalies {
            let left = min(max(Double(mark.timeNs) / span * 100, 0), 100)
            page.raw("<a class=\"marker anomaly-marker kind-\(mark.kind)\" data-kind=\"\(mark.kind)\" data-target=\"\(mark.id)\" href=\"#\(mark.id)\" style=\"left:\(fixed(left))%\" title=\"\(mark.kind) at \(escape(ReportText.milliseconds(picture.beginNs + mark.timeNs)))\"><span class=\"glyph\">\(mark.glyph)</span><span class=\"label\">\(shortKind(mark.kind))</span></a>")
        }
        page.raw("</div><div class=\"axis\"><span>\(escape(ReportText.milliseconds(picture.beginNs)))</span><span>mutation ticks: height = mutations begun per \(escape(duration(picture.spanNs / Int64(SnapshotPicture.timeBins)))) bin, most \(picture.mutationBins.max() ?? 0)</span><span>+\(escape(duration(picture.spanNs)))</span></div></div>\n")

        // Address strip beside the anomaly list.
        page.raw("<div class=\"row\"><figure class=\"strip\" data-snapshot=\"\(index)\"><figcaption>Address space: the arena from \(escape(picture.strip.arenaStart)) (top) to \(escape(picture.strip.arenaEnd))</figcaption>")
        page.raw("<div class=\"strip-heads\" aria-hidden=\"true\"><span style=\"left:0\">epoch</span><span style=\"left:82px\">rw</span><span style=\"left:108px\">truth</span><span style=\"left:190px\">rw</span><span style=\"left:216px\">differs</span><span style=\"left:284px\">anomalies</span></div>")
        page.raw("<div class=\"strip-plot\"><canvas class=\"strip-canvas\" width=\"300\" height=\"\(SnapshotPicture.addressBins)\" aria-label=\"address space of snapshot \(index)\"></canvas>")
        for mark in picture.anomalies {
            let top = min(max(mark.addressLow * 100, 2), 98)
            page.raw("<a class=\"marker strip-marker kind-\(mark.kind)\" data-kind=\"\(mark.kind)\" data-target=\"\(mark.id)\" href=\"#\(mark.id)\" style=\"top:\(fixed(top))%\" title=\"\(mark.kind)\"><span class=\"glyph\">\(mark.glyph)</span><span class=\"label\">\(shortKind(mark.kind))</span></a>")
        }
        page.raw("</div><p class=\"strip-legend\">columns: observed lines by epoch · rw pages seen (▶) · truth at state \(picture.strip.truthState) (\(escape(picture.strip.truthStateWhy))), darker = more mapped, rw pages (◀) · pages whose protection differs from it (hatched) · each anomaly's address range (black bar)</p></figure>\n")

        page.raw("<div class=\"anomalies\"><h3>Anomalies (\(snapshot.anomalies.count))</h3>")
        if snapshot.anomalies.isEmpty {
            page.raw("<p>None: \(escape(SnapshotWords.verdict(snapshot))).</p>")
        }
        for (position, anomaly) in snapshot.anomalies.enumerated() {
            let id = "s\(index)-a\(position)"
            let boundary = anomaly.boundary
            let place = boundary.beforeRead == boundary.afterRead
                ? "inside read \(boundary.afterRead)" : "between reads \(boundary.beforeRead) and \(boundary.afterRead)"
            page.raw("<details class=\"anomaly kind-\(anomaly.kind.rawValue)\" id=\"\(id)\" data-kind=\"\(anomaly.kind.rawValue)\">")
            page.raw("<summary><span class=\"glyph\" aria-hidden=\"true\">\(SnapshotWords.glyph(anomaly.kind))</span> <strong>\(anomaly.kind.rawValue)</strong> \(escape(place)), line \(boundary.line): \(escape(anomaly.start))-\(escape(anomaly.end))</summary>")
            page.raw("<p>\(escape(anomaly.detail))</p>")
            page.raw("<p class=\"boundary\">Boundary: read \(boundary.beforeRead) → read \(boundary.afterRead), byte \(boundary.byteOffset), line \(boundary.line).</p>")
            if anomaly.culpritDetails.isEmpty {
                page.raw("<p>No culprit mutation.</p>")
            } else {
                page.raw("<table class=\"culprits\"><caption>Culprit mutations (\(anomaly.culprits.count))</caption><thead><tr><th>#</th><th>kind</th><th>address</th><th>length</th><th>prot</th><th>at</th></tr></thead><tbody>")
                for culprit in anomaly.culpritDetails.prefix(8) {
                    page.raw("<tr><td>\(culprit.sequence)</td><td>\(escape(culprit.kind))</td><td>\(escape(culprit.address))</td><td>\(culprit.length)</td><td>\(escape(culprit.prot))</td><td>\(escape(ReportText.milliseconds(culprit.timeNs)))</td></tr>")
                }
                page.raw("</tbody></table>")
                if anomaly.culprits.count > 8 {
                    page.raw("<p>… and \(anomaly.culprits.count - 8) more (all in <code>mapsrace analyze --json</code>).</p>")
                }
            }
            if position < excerpts.count {
                page.raw("<pre class=\"diff\">\(diffHTML(excerpts[position].text))</pre>")
            }
            page.raw("</details>")
        }
        if !snapshot.unmodeledLines.isEmpty {
            page.raw("<p>Lines outside the arena no quiescent read explains (not race anomalies):</p><pre class=\"diff\">")
            page.raw(snapshot.unmodeledLines.prefix(5).map { "line \($0.line): \(escape($0.text))" }.joined(separator: "\n"))
            if snapshot.unmodeledLines.count > 5 { page.raw("\n… and \(snapshot.unmodeledLines.count - 5) more") }
            page.raw("</pre>")
        }
        page.raw("</div></div>\n")

        page.raw("<table class=\"epochs\"><caption>Epochs</caption><thead><tr><th>epoch</th><th>lines</th><th>reads</th><th>states</th></tr></thead><tbody>")
        for (position, epoch) in snapshot.epochList.enumerated() {
            page.raw("<tr><td><span class=\"swatch\" data-epoch=\"\(position)\"></span>\(position)</td><td>\(epoch.firstLine)-\(epoch.lastLine)</td><td>\(epoch.firstRead)-\(epoch.lastRead)</td><td>\(epoch.stateMin == epoch.stateMax ? "\(epoch.stateMin)" : "\(epoch.stateMin)..\(epoch.stateMax)")</td></tr>")
        }
        page.raw("</tbody></table>\n</section>\n")
    }

    static func surveyTable(_ survey: SurveyOverview, options: Options, into page: inout Page) {
        page.raw("<section id=\"survey\"><h2>Survey</h2>\n<p>Kernel \(escape(survey.kernelRelease)) (\(escape(survey.machine))); traces in <code>\(escape(survey.directory))</code>; recorded with <code>\(escape(survey.command))</code>.</p>\n")
        page.raw("<table class=\"survey\"><thead><tr><th>workload</th><th>reader</th><th>consistent</th><th>dup/100</th><th>miss/100</th><th>torn/100</th><th>intra/100</th><th>phantom/100</th><th>overlap</th><th>coverage</th><th>read time</th><th>model</th><th>reports</th></tr></thead><tbody>\n")
        let surveyDirectory = options.surveyPath.map(directoryName) ?? "."
        let outputDirectory = options.outputPath.map(directoryName) ?? "."
        for cell in survey.cells {
            // A recording's report is its trace's name with .html.
            var links: [String] = []
            for recording in cell.traces {
                let base = recording.trace.hasSuffix(".mrtrace") ? String(recording.trace.dropLast(8)) : recording.trace
                let candidates = [base + ".html", surveyDirectory + "/" + fileName(base) + ".html"]
                if let found = candidates.first(where: { access($0, R_OK) == 0 }) {
                    links.append("<a href=\"\(escape(relativePath(found, from: outputDirectory)))\">r\(recording.repetition)</a>")
                }
            }
            let percent = cell.consistentPercent.map { fixed($0) + "%" } ?? "-"
            let judged = cell.snapshots > 0
            func rate(_ value: Double) -> String { judged ? fixed(value) : "-" }
            page.raw("<tr><td>\(escape(cell.workload))</td><td>\(escape(cell.reader))</td><td>\(percent)</td>")
            let rates = cell.anomaliesPer100
            for value in [rates.duplicated, rates.missing, rates.torn, rates.intraRead, rates.phantom] {
                page.raw("<td>\(rate(value))</td>")
            }
            page.raw("<td>\(judged ? "\(cell.noOverlapViolations)/\(cell.snapshots)" : "-")</td><td>\(judged ? "\(cell.completeCoverageViolations)/\(cell.snapshots)" : "-")</td>")
            page.raw("<td>\(cell.medianSnapshotNs.map { escape(duration(Int64($0))) } ?? "-")</td><td>\(cell.modelValidated ? "ok" : "NOT")</td>")
            let failed = cell.failures.isEmpty ? "" : " <span title=\"\(escape(cell.failures.first!.message))\">FAILED \(cell.failures.count)</span>"
            page.raw("<td>\(links.isEmpty ? "-" : links.joined(separator: " "))\(failed)</td></tr>\n")
        }
        page.raw("</tbody></table>\n<p class=\"note\">A cell links to each recording's report (its trace's name with <code>.html</code>) when one was made, e.g. <code>mapsrace report DIR/rolling-chromium-r0.mrtrace</code>.</p></section>\n")
    }

    // MARK: - Helpers

    static func shortKind(_ kind: String) -> String {
        switch kind {
        case "duplicated": "dup"
        case "missing": "miss"
        case "intra_read": "intra"
        default: kind
        }
    }

    static func diffHTML(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let escaped = escape(String(line))
            if line.hasPrefix("+++") || line.hasPrefix("---") { return "<b>\(escaped)</b>" }
            if line.hasPrefix("+") { return "<ins>\(escaped)</ins>" }
            if line.hasPrefix("-") { return "<del>\(escaped)</del>" }
            if line.hasPrefix("##") || line.hasPrefix("@@") { return "<i>\(escaped)</i>" }
            return escaped
        }.joined(separator: "\n")
    }

    /// `1.25 ms`, `830 µs`.
    static func duration(_ nanoseconds: Int64) -> String {
        if nanoseconds < 1_000_000 { return "\((nanoseconds + 500) / 1000) µs" }
        if nanoseconds < 1_000_000_000 { return fixed(Double(nanoseconds) / 1e6) + " ms" }
        return fixed(Double(nanoseconds) / 1e9) + " s"
    }

    /// Two decimals.
    static func fixed(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = Int64((abs(value) * 100).rounded())
        let fraction = hundredths % 100
        return (value < 0 && hundredths > 0 ? "-" : "") + "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}

/// The record command that makes the same experiment again.
func recordCommand(_ header: TraceHeader, snapshots: Int) -> String {
    var words = ["mapsrace", "record", "--workload", header.workload]
    if let pages = header.workloadParameters[parameter: "pages"] { words += ["--pages", pages] }
    var reader = header.reader
    if let attempts = header.readerParameters[parameter: "max_attempts"], reader == "retry-stable" { reader += ":\(attempts)" }
    words += ["--reader", reader, "--snapshots", header.readerParameters[parameter: "snapshots"] ?? "\(snapshots)", "--seed", "\(header.seed)"]
    return words.joined(separator: " ")
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(character)
        }
    }
    return out
}

func directoryName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

func fileName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// `path` as seen from `directory` (both relative to the current directory
/// or both absolute); absolute when they share nothing.
func relativePath(_ path: String, from directory: String) -> String {
    func parts(_ text: String) -> [Substring] { text.split(separator: "/").filter { $0 != "." } }
    let target = parts(path)
    let base = parts(directory)
    guard path.hasPrefix("/") == directory.hasPrefix("/") || directory == "." else { return path }
    var common = 0
    while common < target.count - 1 && common < base.count && target[common] == base[common] { common += 1 }
    guard !base[common...].contains("..") else { return path }
    let up = Array(repeating: "..", count: base.count - common)
    return (up + target[common...].map(String.init)).joined(separator: "/")
}

/// Builds the page's text.
struct Page {
    var text = ""
    mutating func raw(_ html: String) { text += html }
}
