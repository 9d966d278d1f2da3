// Aggregation on analyses built here: what a cell's figures must be, from
// snapshots whose verdicts the test chose.

import Foundation
@testable import MapsAnalysis
@testable import MapsSurvey
import MapsTrace
import Testing

/// One snapshot verdict: consistent unless it has anomalies.
func snapshot(
    _ index: Int, durationNs: UInt64, anomalies kinds: [AnomalyKind] = [], noOverlap: Bool? = nil,
    afterMutatorFinished: Bool = false, retryAttempt: Bool = false, accepted: Bool = false
) -> SnapshotAnalysis {
    let anomalies = kinds.map { kind in
        Anomaly(
            kind: kind, boundary: Boundary(beforeRead: 1, afterRead: 2, byteOffset: 4096, line: 50),
            start: "0x1000", end: "0x2000", culprits: [7], culpritDetails: [], detail: "planted \(kind)")
    }
    return SnapshotAnalysis(
        index: index, lines: 100, arenaLines: 90, reads: 3, bytes: 9000, consistent: kinds.isEmpty,
        explainingState: kinds.isEmpty ? 5 : nil, epochs: kinds.isEmpty ? 1 : 2, epochList: [],
        afterMutatorFinished: afterMutatorFinished, complete: true, retryAttempt: retryAttempt, accepted: accepted,
        stateLo: 1, stateHi: 9, durationNs: durationNs,
        rwPagesObserved: 1, rwPagesTruthMin: 1, rwPagesTruthMax: 2, anomalies: anomalies, unmodeledLines: [],
        noOverlap: noOverlap ?? !kinds.contains(.duplicated), completeCoverage: !kinds.contains(.missing))
}

/// A report holding `snapshots`, its model validated or not.
func report(_ snapshots: [SnapshotAnalysis], reader: String = "chromium", modelValidated: Bool = true) -> AnalysisReport {
    let holds = GuaranteeCheck(holds: true, violations: 0, snapshots: [])
    let model = ModelCheck(
        validated: modelValidated, match: modelValidated ? "exact" : "page_level", initialMismatches: 0,
        finalMismatches: modelValidated ? 0 : 2, examples: [], unmodeledMutations: 0, detail: "built by the test")
    return AnalysisReport(
        trace: "test.mrtrace", kernelRelease: "6.18.0-test", workload: "rolling", reader: reader, pages: 100,
        seed: 1, arenaStart: "0x1000", arenaEnd: "0x65000", mutations: 40, traceComplete: true,
        interrupted: false, modelValidated: modelValidated, model: model, snapshotCount: snapshots.count,
        consistentSnapshots: snapshots.filter(\.consistent).count, snapshots: snapshots,
        guarantees: Guarantees(kernelRelease: "6.18.0-test", noOverlap: holds, completeCoverage: holds),
        totals: AnomalyTotals())
}

@Test func medianOfOddAndEvenCounts() {
    #expect(median([]) == nil)
    #expect(median([7]) == 7)
    #expect(median([9, 1, 5]) == 5)
    #expect(median([4, 1, 10, 2]) == 3)
    #expect(median([UInt64.max, UInt64.max - 2]) == UInt64.max - 1)
}

@Test func percentagesRatesAndMediansOverEveryRecordingOfACell() {
    let first = report([
        snapshot(0, durationNs: 100),
        snapshot(1, durationNs: 200, anomalies: [.torn, .duplicated]),
        snapshot(2, durationNs: 300),
        snapshot(3, durationNs: 400),
    ])
    let second = report(
        [
            snapshot(0, durationNs: 10), snapshot(1, durationNs: 20), snapshot(2, durationNs: 30),
            snapshot(3, durationNs: 40, anomalies: [.missing, .torn, .torn]),
            snapshot(4, durationNs: 50), snapshot(5, durationNs: 60),
        ], modelValidated: false)
    let cell = SurveyCell(
        workload: "rolling", reader: "chromium",
        recordings: [
            AnalysedRecording(repetition: 0, trace: "a.mrtrace", seed: 1, report: first),
            AnalysedRecording(repetition: 1, trace: "b.mrtrace", seed: 2, report: second),
        ])
    let stats = cell.statistics

    #expect(stats.recordings == 2)
    #expect(stats.snapshots == 10)
    #expect(stats.consistentSnapshots == 8)
    #expect(stats.consistentPercent == 80)
    #expect(stats.anomalies.torn == 3)
    #expect(stats.anomalies.duplicated == 1)
    #expect(stats.anomalies.missing == 1)
    #expect(stats.anomaliesPer100.torn == 30)
    #expect(stats.anomaliesPer100.duplicated == 10)
    #expect(stats.anomaliesPer100.missing == 10)
    #expect(stats.anomaliesPer100.intraRead == 0)
    #expect(stats.anomaliesPer100.phantom == 0)
    #expect(stats.noOverlapViolations == 1)
    #expect(stats.completeCoverageViolations == 1)
    // 10 20 30 40 50 | 60 100 200 300 400
    #expect(stats.medianSnapshotNs == 55)
    #expect(stats.medianTargetPauseNs == nil)
    #expect(stats.attemptsPerSnapshot == 1)
    #expect(stats.unvalidatedRecordings == 1)
    #expect(!stats.modelValidated)
}

@Test func overlappingLinesWithoutADuplicatedAnomalyStillBreakNoOverlap() {
    let cell = SurveyCell(
        workload: "rolling", reader: "pmap",
        recordings: [AnalysedRecording(trace: "a.mrtrace", seed: 1, report: report([
            snapshot(0, durationNs: 5, anomalies: [.torn], noOverlap: false),
            snapshot(1, durationNs: 5),
            snapshot(2, durationNs: 5),
        ]))])
    let stats = cell.statistics
    #expect(stats.noOverlapViolations == 1)
    #expect(stats.completeCoverageViolations == 0)
    #expect(stats.modelValidated)
    #expect(abs((stats.consistentPercent ?? 0) - 200.0 / 3) < 1e-9)
    #expect(abs(stats.anomaliesPer100.torn - 100.0 / 3) < 1e-9)
}

@Test func aRetryingReaderDeliversOnlyAcceptedAttemptsChargedWithEveryAttempt() {
    let attempts = report([
        snapshot(0, durationNs: 100, anomalies: [.torn], retryAttempt: true),
        snapshot(1, durationNs: 110, retryAttempt: true, accepted: true),
        snapshot(2, durationNs: 120, retryAttempt: true, accepted: true),
        snapshot(3, durationNs: 130, anomalies: [.duplicated], retryAttempt: true),
        snapshot(4, durationNs: 140, retryAttempt: true),
    ], reader: "retry-stable")
    let recording = AnalysedRecording(trace: "r.mrtrace", seed: 1, report: attempts)
    #expect(recording.readerRetries)
    #expect(recording.delivered.map(\.analysis.index) == [1, 2])
    #expect(recording.delivered.map(\.readingNs) == [210, 120])
    #expect(recording.delivered.map(\.attempts) == [2, 1])
    #expect(recording.deliveries.abandonedAttempts == 2)
    #expect(recording.deliveries.gaveUp == 0)

    let stats = SurveyCell(workload: "rolling", reader: "retry-stable", recordings: [recording]).statistics
    // The torn and duplicated attempts were never handed over.
    #expect(stats.snapshots == 2)
    #expect(stats.consistentPercent == 100)
    #expect(stats.anomalies.raceAnomalies == 0)
    #expect(stats.noOverlapViolations == 0)
    #expect(stats.medianSnapshotNs == 165)
    #expect(stats.attemptsPerSnapshot == 1.5)
    #expect(stats.abandonedAttempts == 2)
    #expect(stats.gaveUp == 0)
}

@Test func aRoundOfMaxAttemptsWithoutAgreementIsGivenUpNotChargedToTheNextSnapshot() {
    // Limit 3: attempts 0-2 never agree (given up), 3-4 agree, 5 is the
    // first attempt of a round the recording ended in.
    let attempts = report(
        (0..<6).map { snapshot($0, durationNs: 10 * UInt64($0 + 1), retryAttempt: true, accepted: $0 == 4) },
        reader: "retry-stable")
    let recording = AnalysedRecording(trace: "r.mrtrace", seed: 1, report: attempts, maxAttempts: 3)
    let deliveries = recording.deliveries
    #expect(deliveries.delivered.map(\.analysis.index) == [4])
    #expect(deliveries.delivered.map(\.attempts) == [2])
    #expect(deliveries.delivered.map(\.readingNs) == [40 + 50])
    #expect(deliveries.gaveUp == 1)
    #expect(deliveries.abandonedAttempts == 3 + 1)

    let stats = SurveyCell(workload: "churn", reader: "retry-stable", recordings: [recording]).statistics
    #expect(stats.snapshots == 1)
    #expect(stats.gaveUp == 1)
    #expect(stats.abandonedAttempts == 4)
    #expect(stats.attemptsPerSnapshot == 2)
}

@Test func snapshotsWithoutRetriesAreEveryOneDelivered() {
    let plain = report([snapshot(0, durationNs: 7), snapshot(1, durationNs: 9, anomalies: [.phantom])])
    let recording = AnalysedRecording(trace: "p.mrtrace", seed: 3, report: plain)
    #expect(!recording.readerRetries)
    #expect(recording.delivered.count == 2)
    #expect(recording.deliveries.abandonedAttempts == 0)
    let stats = SurveyCell(workload: "rolling", reader: "cat", recordings: [recording]).statistics
    #expect(stats.anomaliesPer100.phantom == 50)
    #expect(stats.consistentPercent == 50)
    #expect(stats.medianSnapshotNs == 8)
}

@Test func targetPausesTakeTheirMedianOverEveryRecording() {
    let cell = SurveyCell(
        workload: "rolling", reader: "frozen",
        recordings: [
            AnalysedRecording(trace: "a", seed: 1, report: report([snapshot(0, durationNs: 1)]), targetPausesNs: [900, 100]),
            AnalysedRecording(trace: "b", seed: 2, report: report([snapshot(0, durationNs: 1)]), targetPausesNs: [300]),
        ])
    #expect(cell.statistics.medianTargetPauseNs == 300)
}

@Test func aCellWithOnlyFailuresHasNoFigures() {
    let failure = FailedRecording(repetition: 0, seed: 1, trace: nil, exitCode: 23, message: "not supported by this kernel")
    let stats = SurveyCell(workload: "rolling", reader: "procmap-query", failures: [failure]).statistics
    #expect(stats.recordings == 0)
    #expect(stats.failedRecordings == 1)
    #expect(stats.snapshots == 0)
    #expect(stats.consistentPercent == nil)
    #expect(stats.medianSnapshotNs == nil)
    #expect(stats.attemptsPerSnapshot == nil)
    #expect(stats.anomaliesPer100.torn == 0)
    #expect(!stats.modelValidated)
}

@Test func snapshotsReadAfterTheMutatorFinishedAreLeftOutOfEveryFigure() {
    let recording = AnalysedRecording(trace: "s.mrtrace", seed: 1, report: report([
        snapshot(0, durationNs: 900, anomalies: [.torn]),
        snapshot(1, durationNs: 700),
        snapshot(2, durationNs: 10, afterMutatorFinished: true),
        snapshot(3, durationNs: 20, afterMutatorFinished: true),
        snapshot(4, durationNs: 30, afterMutatorFinished: true),
    ], reader: "smaps"))
    let stats = SurveyCell(workload: "rolling", reader: "smaps", recordings: [recording]).statistics
    #expect(stats.deliveredSnapshots == 5)
    #expect(stats.quietSnapshots == 3)
    #expect(stats.snapshots == 2)
    #expect(stats.consistentPercent == 50)
    #expect(stats.anomaliesPer100.torn == 50)
    #expect(stats.medianSnapshotNs == 800)
}

@Test func caughtAndEscapedCountEveryAttemptOfAValidatingReaderWhileTheMutatorRan() {
    func judged(_ analysis: SnapshotAnalysis, action: String, verdict: String) -> SnapshotAnalysis {
        var analysis = analysis
        analysis.validation = ValidationOutcome(
            rule: "overlap_retry", action: action, torn: !analysis.anomalies.isEmpty, verdict: verdict)
        return analysis
    }
    var crashpad = report(
        [
            judged(snapshot(0, durationNs: 10, anomalies: [.duplicated], retryAttempt: true), action: "retried", verdict: "caught"),
            judged(snapshot(1, durationNs: 10, retryAttempt: true, accepted: true), action: "accepted", verdict: "clean"),
            judged(snapshot(2, durationNs: 10, anomalies: [.torn], retryAttempt: true, accepted: true), action: "accepted", verdict: "escaped"),
            judged(snapshot(3, durationNs: 10, anomalies: [.torn], retryAttempt: true, accepted: true), action: "accepted", verdict: "escaped"),
            // Read after the mutator finished: not judged by the survey.
            judged(snapshot(4, durationNs: 10, anomalies: [.torn], afterMutatorFinished: true, retryAttempt: true, accepted: true),
                   action: "accepted", verdict: "escaped"),
        ], reader: "crashpad")
    crashpad.validation = ValidationJudge.totals(crashpad.snapshots)
    let cell = SurveyCell(
        workload: "rolling", reader: "crashpad",
        recordings: [AnalysedRecording(trace: "c.mrtrace", seed: 1, report: crashpad)])
    #expect(cell.statistics.validationCaught == 1)
    #expect(cell.statistics.validationEscaped == 2)
    let plan = SurveyPlan(workloads: ["rolling"], readers: ["crashpad"], directory: "/tmp/x", toolVersion: "test")
    let result = SurveyResult(
        plan: plan, kernelRelease: "6.18.0-test", machine: "x86_64", startWallClockNs: 0, elapsedNs: 0,
        cells: [cell], signal: 0)
    #expect(SurveyTable.markdown(result).contains("| 1/2 |"))

    let plain = SurveyCell(
        workload: "rolling", reader: "chromium",
        recordings: [AnalysedRecording(trace: "p.mrtrace", seed: 1, report: report([snapshot(0, durationNs: 5)]))])
    #expect(plain.statistics.validationCaught == nil)
    #expect(plain.statistics.validationEscaped == nil)
}

@Test func snapshotsAReaderAbortedAreGivenUpOnNotDelivered() {
    let valgrind = report(
        [snapshot(0, durationNs: 10, anomalies: [.torn]), snapshot(1, durationNs: 20), snapshot(2, durationNs: 30)],
        reader: "valgrind")
    let recording = AnalysedRecording(trace: "v.mrtrace", seed: 1, report: valgrind, abortedSnapshots: [0, 2])
    #expect(recording.deliveries.delivered.map(\.analysis.index) == [1])
    #expect(recording.deliveries.gaveUp == 2)
    let stats = SurveyCell(workload: "rolling", reader: "valgrind", recordings: [recording]).statistics
    #expect(stats.snapshots == 1)
    #expect(stats.consistentSnapshots == 1)
    #expect(stats.gaveUp == 2)
}
