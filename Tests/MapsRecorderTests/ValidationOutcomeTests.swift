import MapsAnalysis
import MapsModel
import MapsRecorder
import MapsTestSupport
import MapsTrace
import Testing

// Planted snapshots checked by the tools' own rules (MapsTextRules, the
// functions the reader process calls), the rule's flags written into the
// trace, and the analysis asked whether the rule caught each tear.

/// rw- --- r-- --- r-- ---, one line each.
private let arena: [Int32] = [readWrite, none, readOnly, none, readOnly, none]

private func line(_ first: Int, _ last: Int, _ prot: Int32) -> String {
    PlantedTrace.line(from: first, to: last, prot: prot)
}

/// Page 2 read-write at 100 ns, page 0 none at 200 ns (pages 0 and 1 merge),
/// page 4 read-write at 250 ns.
private func mergingTrace(profile: ToolProfile) -> PlantedTrace {
    var trace = PlantedTrace(initial: arena)
    trace.mutations = [(2, readWrite, 100), (0, none, 200), (4, readWrite, 250)]
    trace.reader = profile.rawValue
    trace.readerParameters = profile.traceParameters
    return trace
}

/// A merge between the two reads: the second read resumes inside the
/// merged [0, 2) mapping and reports it again: line 3 starts below line 2's
/// end (an overlap) and at the same start (a backwards start).
private func overlappingSnapshot() -> [PlantedTrace.PlantedRead] {
    [
        .init(at: 50, lines: [PlantedTrace.before, line(0, 1, readWrite)]),
        .init(at: 300, lines: [line(0, 2, none), line(2, 3, readWrite), line(3, 4, none),
                               line(4, 5, readWrite), line(5, 6, none), PlantedTrace.after]),
    ]
}

/// Torn without any overlap: read 0 at state 0, read 1 at state 3; every
/// line starts where the one before it ends.
private func tornWithoutOverlap() -> [PlantedTrace.PlantedRead] {
    [
        .init(at: 50, lines: [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none)]),
        .init(at: 300, lines: [line(2, 3, readWrite), line(3, 4, none), line(4, 5, readWrite),
                               line(5, 6, none), PlantedTrace.after]),
    ]
}

/// The whole maps at state 3, read once after every mutation.
private func whole(_ trace: PlantedTrace, at time: UInt64) -> [PlantedTrace.PlantedRead] {
    [.init(at: time, lines: trace.maps(at: 3))]
}

private func text(of reads: [PlantedTrace.PlantedRead]) -> [UInt8] {
    PlantedTrace.text(reads.flatMap(\.lines))
}

private func overlapFlags(_ reads: [PlantedTrace.PlantedRead], attempt: Int) -> SnapshotFlags {
    text(of: reads).withUnsafeBytes {
        MapsTextRules.overlapCheck($0, attempt: attempt, of: ToolProfile.overlapAttempts)
    }.union(.retryAttempt)
}

private func skipFlags(_ reads: [PlantedTrace.PlantedRead]) -> SnapshotFlags {
    text(of: reads).withUnsafeBytes { MapsTextRules.skipCheck($0) }
}

@Suite("Validation outcomes: whether a tool's own check caught the tear")
struct ValidationOutcomeTests {
    @Test(arguments: [ToolProfile.crashpad, .cpptrace])
    func anOverlapIsCaughtAndTheRetryAccepted(profile: ToolProfile) throws {
        var trace = mergingTrace(profile: profile)
        trace.snapshots = [overlappingSnapshot(), whole(trace, at: 1000)]
        trace.extraFlags = [overlapFlags(trace.snapshots[0], attempt: 1), overlapFlags(trace.snapshots[1], attempt: 2)]
        #expect(trace.extraFlags[0].contains(.validationRejected))
        #expect(!trace.extraFlags[0].contains(.gaveUp))
        #expect(trace.extraFlags[1].contains(.accepted))

        let report = try trace.analyze()
        #expect(report.snapshots[0].anomalies.map(\.kind) == [.duplicated])
        #expect(report.snapshots[0].validation == ValidationOutcome(
            rule: "overlap_retry", action: "retried", torn: true, verdict: "caught"))
        #expect(report.snapshots[1].validation == ValidationOutcome(
            rule: "overlap_retry", action: "accepted", torn: false, verdict: "clean"))
        var expected = ValidationTotals(rule: "overlap_retry")
        expected.caught = 1
        expected.clean = 1
        #expect(report.validation == expected)
    }

    @Test(arguments: [ToolProfile.crashpad, .cpptrace])
    func aTornSnapshotWithoutOverlapEscapes(profile: ToolProfile) throws {
        var trace = mergingTrace(profile: profile)
        trace.snapshots = [tornWithoutOverlap(), overlappingSnapshot()]
        trace.extraFlags = [overlapFlags(trace.snapshots[0], attempt: 1), overlapFlags(trace.snapshots[1], attempt: 1)]
        #expect(trace.extraFlags[0].contains(.accepted))

        let report = try trace.analyze()
        #expect(report.snapshots[0].anomalies.map(\.kind) == [.torn])
        #expect(report.snapshots[0].validation?.verdict == "escaped")
        #expect(report.snapshots[0].validation?.action == "accepted")
        #expect(report.snapshots[1].validation?.verdict == "caught")
        var expected = ValidationTotals(rule: "overlap_retry")
        expected.caught = 1
        expected.escaped = 1
        #expect(report.validation == expected)
        let human = ReportText.human(report, details: false)
        #expect(human.contains("Validation  overlap_retry: caught 1 · escaped 1 · clean 0 · false alarms 0 · unjudged 0"))
    }

    @Test func threeRejectedAttemptsGiveUp() throws {
        var trace = mergingTrace(profile: .crashpad)
        trace.snapshots = [overlappingSnapshot(), overlappingSnapshot(), overlappingSnapshot()]
        trace.extraFlags = (1...3).map { overlapFlags(trace.snapshots[$0 - 1], attempt: $0) }
        #expect(trace.extraFlags[2].contains([.validationRejected, .gaveUp]))
        let report = try trace.analyze()
        #expect(report.snapshots.map { $0.validation?.action } == ["retried", "retried", "gave_up"])
        #expect(report.validation?.caught == 3)
        #expect(report.validation?.escaped == 0)
    }

    @Test func aBackwardsStartIsSkippedByDynamoRIOAndATornLineWithoutOneEscapes() throws {
        var trace = mergingTrace(profile: .dynamorio)
        trace.snapshots = [overlappingSnapshot(), tornWithoutOverlap(), whole(trace, at: 1000)]
        trace.extraFlags = trace.snapshots.map(skipFlags)
        #expect(trace.extraFlags == [.linesSkipped, [], []])

        let report = try trace.analyze()
        #expect(report.snapshots.map { $0.validation?.action } == ["skipped", "passed", "passed"])
        #expect(report.snapshots.map { $0.validation?.verdict } == ["caught", "escaped", "clean"])
        var expected = ValidationTotals(rule: "skip_backwards")
        expected.caught = 1
        expected.escaped = 1
        expected.clean = 1
        #expect(report.validation == expected)
    }

    @Test func aLineInsideThePreviousOneIsAnOverlapButNotABackwardsStart() {
        // Starts above the previous start, below the previous end.
        let lines = [line(0, 3, none), line(1, 2, readWrite), line(3, 4, none)]
        PlantedTrace.text(lines).withUnsafeBytes { text in
            #expect(MapsTextRules.hasOverlap(text))
            #expect(MapsTextRules.backwardsLines(in: text) == 0)
        }
        PlantedTrace.text([line(0, 1, none), line(1, 2, readWrite)]).withUnsafeBytes { text in
            #expect(!MapsTextRules.hasOverlap(text))
        }
    }

    @Test func readersWithoutATextCheckGetNoValidationKeys() throws {
        var trace = mergingTrace(profile: .go)
        trace.snapshots = [overlappingSnapshot()]
        let report = try trace.analyze()
        #expect(report.validation == nil)
        #expect(report.snapshots.allSatisfy { $0.validation == nil })
        #expect(!ReportText.json(report).contains("\"validation\""))
    }
}
