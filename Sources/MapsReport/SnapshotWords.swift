import MapsAnalysis

/// The words `analyze` uses for a snapshot, for the page and the export.
enum SnapshotWords {
    /// `consistent (state 12)`, or the anomaly kinds with their counts.
    static func verdict(_ snapshot: SnapshotAnalysis) -> String {
        if snapshot.consistent {
            return "consistent (state \(snapshot.explainingState ?? 0))"
                + (snapshot.afterMutatorFinished ? ", read after the mutator finished" : "")
        }
        var parts = AnomalyKind.allCases.compactMap { kind -> String? in
            let count = snapshot.anomalies.filter { $0.kind == kind }.count
            return count > 0 ? "\(kind.rawValue) ×\(count)" : nil
        }
        if !snapshot.complete { parts.append("did not reach end of file") }
        return parts.isEmpty ? "inconsistent" : parts.joined(separator: ", ")
    }

    /// `1..2`, or `1` when the truth did not change.
    static func truthRange(_ snapshot: SnapshotAnalysis) -> String {
        snapshot.rwPagesTruthMin == snapshot.rwPagesTruthMax
            ? "\(snapshot.rwPagesTruthMin)" : "\(snapshot.rwPagesTruthMin)..\(snapshot.rwPagesTruthMax)"
    }

    static func guarantee(_ check: GuaranteeCheck) -> String {
        if check.holds { return "held" }
        let list = check.snapshots.prefix(10).map(String.init).joined(separator: ", ")
        return "VIOLATED \(check.violations) time(s), in snapshot(s) \(list)\(check.snapshots.count > 10 ? ", …" : "")"
    }

    /// `12.345678 ms` after the trace's start.
    static func milliseconds(_ nanoseconds: Int64) -> String { ReportText.milliseconds(nanoseconds) }

    /// What the page calls an anomaly kind, with the glyph that marks it
    /// (the shape says the kind without colour).
    static func glyph(_ kind: AnomalyKind) -> String {
        switch kind {
        case .duplicated: "◆"
        case .missing: "▲"
        case .torn: "✖"
        case .intraRead: "●"
        case .phantom: "■"
        }
    }
}
