// JSONEncoder without the rest of Foundation (and its ICU start-up cost).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MapsModel
import MapsTrace

/// Renders an analysis for people (summary first, then each snapshot) or as
/// the JSON documented in docs/analysis-json.md.
public enum ReportText {
    public static func json(_ report: AnalysisReport) -> String {
        JSONOutput.text(report)
    }

    public static func human(_ report: AnalysisReport, details: Bool = true) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        let pages = report.pages.map { ", \($0) pages" } ?? ""
        line("Trace       \(report.trace)\(report.traceComplete ? "" : " (incomplete: analysed up to where it was cut)")\(report.interrupted ? " (recording was interrupted)" : "")")
        line("Experiment  kernel \(report.kernelRelease) · workload \(report.workload)\(pages) · reader \(report.reader) · seed \(report.seed)")
        line("Arena       \(report.arenaStart)-\(report.arenaEnd) · \(report.mutations) mutations")
        line("Model       \(report.modelValidated ? "validated" : "NOT validated"): \(report.model.detail)")
        for example in report.model.examples.prefix(6) { line("              \(example)") }
        line()
        let unfinished = report.snapshots.filter { !$0.complete && !$0.consistent }.count
        let torn = report.snapshotCount - report.consistentSnapshots - unfinished
        line("Snapshots   \(report.snapshotCount): \(report.consistentSnapshots) consistent, \(torn) never existed as read"
            + (unfinished > 0 ? ", \(unfinished) not read to the end" : ""))
        let totals = report.totals
        line("Anomalies   torn \(totals.torn) · duplicated \(totals.duplicated) · missing \(totals.missing) · intra_read \(totals.intraRead) · phantom \(totals.phantom)")
        line("Kernel guarantees on \(report.guarantees.kernelRelease):")
        line("  no two lines overlap (addresses never go backwards)  \(verdict(report.guarantees.noOverlap))")
        line("  whatever was mapped throughout appears               \(verdict(report.guarantees.completeCoverage))")
        if let validation = report.validation {
            line("Validation  \(validation.rule): caught \(validation.caught) · escaped \(validation.escaped) · clean \(validation.clean) · false alarms \(validation.falseAlarms) · unjudged \(validation.unjudged)")
        }
        line("Outside the arena: \(totals.unmodeled) unmodeled line(s) (changes no logged mutation explains; not race anomalies)")
        if let spaces = report.addressSpaces {
            line("Address spaces (whole-address-space model; each snapshot judged against the one it read):")
            for space in spaces {
                let names = space.unmodeledLines.compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) }
                line("  pid \(space.pid) generation \(space.generation) \(space.command): "
                    + (space.validated ? "validated (exact)" : "NOT validated, judged page by page")
                    + " · \(space.mutations) mutations · \(space.modeledLines) lines modeled, \(space.unmodeledLines.count) unmodeled"
                    + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))")
                    + " · snapshots \(space.judgedSnapshots) judged, \(space.consistentSnapshots) consistent")
                if !space.validated {
                    line("    \(space.detail)")
                    for example in space.examples.prefix(4) { line("      \(example)") }
                }
            }
        }
        line()
        line(" snapshot    lines   reads  epochs  rw seen  rw truth  verdict")
        for snapshot in report.snapshots {
            line(
                pad(snapshot.index, 9) + pad(snapshot.lines, 9) + pad(snapshot.reads, 8) + pad(snapshot.epochs, 8)
                    + pad(snapshot.rwPagesObserved, 9) + pad(truthRange(snapshot), 10) + "  " + summary(snapshot))
        }
        guard details else { return out }
        for snapshot in report.snapshots where !snapshot.anomalies.isEmpty || !snapshot.unmodeledLines.isEmpty {
            line()
            let epochs = snapshot.epochList.map { epoch in
                "lines \(epoch.firstLine)-\(epoch.lastLine) at state \(epoch.stateMin == epoch.stateMax ? "\(epoch.stateMin)" : "\(epoch.stateMin)..\(epoch.stateMax)")"
            }
            line("Snapshot \(snapshot.index): \(snapshot.epochs) epoch(s): \(epochs.joined(separator: "; "))")
            for anomaly in snapshot.anomalies {
                let place = anomaly.boundary.beforeRead == anomaly.boundary.afterRead
                    ? "inside read \(anomaly.boundary.afterRead)"
                    : "between reads \(anomaly.boundary.beforeRead) and \(anomaly.boundary.afterRead)"
                line("  \(anomaly.kind.rawValue) \(place) (byte \(anomaly.boundary.byteOffset), line \(anomaly.boundary.line)): \(anomaly.start)-\(anomaly.end)")
                line("    \(anomaly.detail)")
                for culprit in anomaly.culpritDetails.prefix(8) {
                    line("    culprit #\(culprit.sequence) \(culprit.kind) \(culprit.address) +\(culprit.length) \(culprit.prot) at \(milliseconds(culprit.timeNs))")
                }
                if anomaly.culprits.count > 8 {
                    line("    … and \(anomaly.culprits.count - 8) more culprits (all in --json)")
                }
            }
            for unmodeled in snapshot.unmodeledLines.prefix(5) {
                line("  unmodeled line \(unmodeled.line): \(unmodeled.text)")
            }
            if snapshot.unmodeledLines.count > 5 {
                line("  … and \(snapshot.unmodeledLines.count - 5) more unmodeled lines")
            }
        }
        return out
    }

    /// `held`, or `VIOLATED n time(s), in snapshot(s) …`.
    public static func verdict(_ check: GuaranteeCheck) -> String {
        if check.holds { return "held" }
        let list = check.snapshots.prefix(10).map(String.init).joined(separator: ", ")
        return "VIOLATED \(check.violations) time(s), in snapshot(s) \(list)\(check.snapshots.count > 10 ? ", …" : "")"
    }

    /// `1..2`: the fewest and most read-write arena pages the truth had
    /// while the snapshot was read; `1` when it did not change.
    public static func truthRange(_ snapshot: SnapshotAnalysis) -> String {
        snapshot.rwPagesTruthMin == snapshot.rwPagesTruthMax
            ? "\(snapshot.rwPagesTruthMin)" : "\(snapshot.rwPagesTruthMin)..\(snapshot.rwPagesTruthMax)"
    }

    /// `consistent (state 12)`, or the anomaly kinds with their counts.
    public static func summary(_ snapshot: SnapshotAnalysis) -> String {
        if let whole = snapshot.wholeSpace, !whole.arenaSpace {
            // Another address space than the arena's: its own model's verdict.
            let space = "pid \(whole.pid) generation \(whole.generation)"
            if !whole.judged { return "not judged (\(space): \(whole.detail))" }
            return whole.consistent == true
                ? "consistent (\(space) state \(whole.explainingState ?? 0))"
                : "never existed in \(space) (\(whole.mismatchesAtLo) lines differ from state \(whole.stateLo))"
        }
        if snapshot.consistent {
            return "consistent (state \(snapshot.explainingState ?? 0))" + (snapshot.afterMutatorFinished ? ", read after the mutator finished" : "")
        }
        var kinds: [AnomalyKind: Int] = [:]
        for anomaly in snapshot.anomalies { kinds[anomaly.kind, default: 0] += 1 }
        var parts = AnomalyKind.allCases.compactMap { kind in kinds[kind].map { "\(kind.rawValue) ×\($0)" } }
        if !snapshot.complete { parts.append("did not reach end of file") }
        return parts.isEmpty ? "inconsistent" : parts.joined(separator: ", ")
    }

    static func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = value.description
        return text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }

    /// `12.345678 ms` from nanoseconds.
    public static func milliseconds(_ nanoseconds: Int64) -> String {
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction) ms"
    }
}
