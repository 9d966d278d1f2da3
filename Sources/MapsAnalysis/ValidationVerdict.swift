import MapsTrace

// Whether a reader's own check of the maps text (the tools that validate:
// crashpad and cpptrace re-read on an overlap, dynamorio skips lines that
// go backwards) caught the tears the analysis finds. Computed from each
// snapshot's analysis and the flags the reader recorded; only for traces
// whose reader parameters name a `validation` rule that looks at the text,
// so other analyses have no `validation` keys (docs/analysis-json.md).

/// What the reader's check did with one snapshot and whether that was right.
public struct ValidationOutcome: Codable, Sendable, Equatable {
    /// The rule (`overlap_retry`, `skip_backwards`).
    public var rule: String
    /// What the check did: `accepted` (passed), `retried` (rejected, read
    /// again), `gave_up` (rejected on the last attempt), `skipped` (dropped
    /// lines), `passed` (skip rule found nothing), `none` (the read failed
    /// before the check ran).
    public var action: String
    /// The snapshot holds race anomalies; nil when it was not read to the end.
    public var torn: Bool?
    /// `caught` (torn, and the check acted), `escaped` (torn, and the check
    /// let it through), `clean` (not torn, nothing done), `false_alarm`
    /// (not torn, but the check acted), `unjudged` (not read to the end).
    public var verdict: String

    public init(rule: String, action: String, torn: Bool?, verdict: String) {
        self.rule = rule
        self.action = action
        self.torn = torn
        self.verdict = verdict
    }

    /// Written out so that `torn` is `null` when unjudged, never left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(action, forKey: .action)
        try container.encode(torn, forKey: .torn)
        try container.encode(verdict, forKey: .verdict)
    }

    enum CodingKeys: String, CodingKey { case rule, action, torn, verdict }
}

/// The outcomes of a whole trace, counted.
public struct ValidationTotals: Codable, Sendable, Equatable {
    public var rule: String
    public var caught = 0
    public var escaped = 0
    public var clean = 0
    public var falseAlarms = 0
    public var unjudged = 0

    public init(rule: String) { self.rule = rule }

    enum CodingKeys: String, CodingKey {
        case rule, caught, escaped, clean
        case falseAlarms = "false_alarms"
        case unjudged
    }
}

public enum ValidationJudge {
    /// The rules that look at the text, as the reader parameter `validation` names them.
    public static let textRules: Set<String> = ["overlap_retry", "skip_backwards"]

    /// The trace's text-checking rule, nil when its reader has none.
    public static func rule(of header: TraceHeader) -> String? {
        header.readerParameters[parameter: "validation"].flatMap { textRules.contains($0) ? $0 : nil }
    }

    /// Judges one snapshot from its analysis and the flags its reader recorded.
    public static func judge(_ analysis: SnapshotAnalysis, flags: SnapshotFlags, rule: String) -> ValidationOutcome {
        let action: String
        if flags.contains(.validationRejected) {
            action = flags.contains(.gaveUp) ? "gave_up" : "retried"
        } else if flags.contains(.linesSkipped) {
            action = "skipped"
        } else if !flags.contains(.reachedEOF) {
            action = "none"
        } else {
            action = rule == "skip_backwards" ? "passed" : "accepted"
        }
        guard analysis.complete else {
            return ValidationOutcome(rule: rule, action: action, torn: nil, verdict: "unjudged")
        }
        let torn = !analysis.anomalies.isEmpty
        let acted = flags.contains(.validationRejected) || flags.contains(.linesSkipped)
        let verdict = switch (torn, acted) {
        case (true, true): "caught"
        case (true, false): "escaped"
        case (false, true): "false_alarm"
        case (false, false): "clean"
        }
        return ValidationOutcome(rule: rule, action: action, torn: torn, verdict: verdict)
    }

    /// Counts the verdicts of every snapshot that has one; nil when none has.
    public static func totals(_ snapshots: [SnapshotAnalysis]) -> ValidationTotals? {
        guard let rule = snapshots.lazy.compactMap(\.validation).first?.rule else { return nil }
        var totals = ValidationTotals(rule: rule)
        for outcome in snapshots.compactMap(\.validation) {
            switch outcome.verdict {
            case "caught": totals.caught += 1
            case "escaped": totals.escaped += 1
            case "clean": totals.clean += 1
            case "false_alarm": totals.falseAlarms += 1
            default: totals.unjudged += 1
            }
        }
        return totals
    }
}
