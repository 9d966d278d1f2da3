import MapsAnalysis

/// The words `analyze` uses for a snapshot, for the page and the export.
enum SnapshotWords {
    /// `consistent (state 12)`, or the anomaly kinds with their counts.
    static func verdict(_ snapshot: SnapshotAnalysis) -> String { ReportText.summary(snapshot) }

    /// `1..2`, or `1` when the truth did not change.
    static func truthRange(_ snapshot: SnapshotAnalysis) -> String { ReportText.truthRange(snapshot) }

    static func guarantee(_ check: GuaranteeCheck) -> String { ReportText.verdict(check) }

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
