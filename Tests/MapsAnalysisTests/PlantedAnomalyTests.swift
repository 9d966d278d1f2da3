import MapsAnalysis
import MapsModel
import MapsTestSupport
import Testing

/// Six pages alternating read-write/none/read-only, as the rolling workload
/// leaves its arena: rw- --- r-- --- r-- ---, one line each.
private let arena: [Int32] = [readWrite, none, readOnly, none, readOnly, none]

private func line(_ first: Int, _ last: Int, _ prot: Int32) -> String {
    PlantedTrace.line(from: first, to: last, prot: prot)
}

private func textLength(_ lines: [String]) -> UInt64 {
    UInt64(PlantedTrace.text(lines).count)
}

/// Page 2 becomes read-write at 100 ns, then page 0 none at 200 ns, which
/// merges pages 0 and 1 into one line.
private func mergingTrace() -> PlantedTrace {
    var trace = PlantedTrace(initial: arena)
    trace.mutations = [(2, readWrite, 100), (0, none, 200)]
    return trace
}

@Suite("Planted anomalies: exactly the planted ones, at their boundaries, with their culprits")
struct PlantedAnomalyTests {
    @Test func tornSnapshotAcrossAReadBoundary() throws {
        var trace = mergingTrace()
        // A third mutation makes page 4 read-write: after it, page 0's
        // read-write line is long gone.
        trace.mutations.append((4, readWrite, 250))
        let firstRead = [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none)]
        trace.snapshots = [
            [
                .init(at: 50, lines: firstRead),  // state 0
                .init(at: 300, lines: [line(2, 3, readWrite), line(3, 4, none), line(4, 5, readWrite),
                                       line(5, 6, none), PlantedTrace.after]),  // state 3
            ],
            [.init(at: 1000, lines: trace.maps(at: 3))],
        ]
        let report = try trace.analyze()
        #expect(report.modelValidated)
        #expect(report.snapshotCount == 2)
        let torn = report.snapshots[0]
        #expect(!torn.consistent)
        #expect(torn.epochs == 2)
        #expect(torn.anomalies.count == 1)
        let anomaly = try #require(torn.anomalies.first)
        #expect(anomaly.kind == .torn)
        #expect(anomaly.boundary == Boundary(beforeRead: 0, afterRead: 1, byteOffset: textLength(firstRead), line: 4))
        // The printed lines were still true at state 1 (after page 2's
        // change); page 0's change made them stale; page 4's touched
        // nothing printed.
        #expect(anomaly.culprits == [1])
        #expect(anomaly.start == addressString(PlantedTrace.address(page: 0)))
        #expect(anomaly.end == addressString(PlantedTrace.address(page: 1)))
        // Three read-write pages: page 0 from before the second mutation,
        // pages 2 and 4 from after the third. There were never more than 2.
        #expect(torn.rwPagesObserved == 3)
        #expect(torn.rwPagesTruthMin == 1)
        #expect(torn.rwPagesTruthMax == 2)
        #expect(torn.noOverlap && torn.completeCoverage)

        let whole = report.snapshots[1]
        #expect(whole.consistent)
        #expect(whole.explainingState == 3)
        #expect(whole.anomalies.isEmpty)
        #expect(report.totals.torn == 1)
        #expect(report.totals.raceAnomalies == 1)
        #expect(report.consistentSnapshots == 1)
    }

    @Test func readsFromDifferentStatesCanStillShowOneThatExisted() throws {
        var trace = mergingTrace()
        // Read 0 at state 0, read 1 at state 1: the mutation between them
        // touched only page 2, not yet printed, so the snapshot is exactly
        // state 1, which existed.
        trace.snapshots = [[
            .init(at: 50, lines: [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none)]),
            .init(at: 150, lines: [line(2, 3, readWrite), line(3, 4, none), line(4, 5, readOnly),
                                   line(5, 6, none), PlantedTrace.after]),
        ]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.consistent)
        #expect(snapshot.explainingState == 1)
        #expect(snapshot.anomalies.isEmpty)
    }

    @Test func mergeBetweenReadsDuplicatesARange() throws {
        var trace = mergingTrace()
        let firstRead = [PlantedTrace.before, line(0, 1, readWrite)]
        trace.snapshots = [[
            .init(at: 50, lines: firstRead),
            // The walk resumes at page 1, now inside the merged [0, 2) mapping.
            .init(at: 300, lines: [line(0, 2, none), line(2, 3, readWrite), line(3, 4, none),
                                   line(4, 5, readOnly), line(5, 6, none), PlantedTrace.after]),
        ]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.anomalies.count == 1)
        let anomaly = try #require(snapshot.anomalies.first)
        #expect(anomaly.kind == .duplicated)
        #expect(anomaly.boundary == Boundary(beforeRead: 0, afterRead: 1, byteOffset: textLength(firstRead), line: 3))
        #expect(anomaly.start == addressString(PlantedTrace.address(page: 0)))
        #expect(anomaly.end == addressString(PlantedTrace.address(page: 1)))
        // Only the merge touched the duplicated range; page 2's change did not.
        #expect(anomaly.culprits == [1])
        #expect(!snapshot.noOverlap)
        #expect(!report.guarantees.noOverlap.holds)
        #expect(report.guarantees.noOverlap.snapshots == [0])
        #expect(report.guarantees.completeCoverage.holds)
    }

    @Test func resumeByLineIndexSkipsARange() throws {
        var trace = mergingTrace()
        let firstRead = [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none)]
        trace.snapshots = [[
            .init(at: 50, lines: firstRead),
            // An old kernel resuming at line 3 of the merged list skips page 2.
            .init(at: 300, lines: [line(3, 4, none), line(4, 5, readOnly), line(5, 6, none), PlantedTrace.after]),
        ]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.anomalies.count == 1)
        let anomaly = try #require(snapshot.anomalies.first)
        #expect(anomaly.kind == .missing)
        #expect(anomaly.boundary == Boundary(beforeRead: 0, afterRead: 1, byteOffset: textLength(firstRead), line: 4))
        #expect(anomaly.start == addressString(PlantedTrace.address(page: 2)))
        #expect(anomaly.end == addressString(PlantedTrace.address(page: 3)))
        #expect(anomaly.culprits == [0])
        #expect(!snapshot.completeCoverage)
        #expect(!report.guarantees.completeCoverage.holds)
        #expect(report.guarantees.noOverlap.holds)
    }

    @Test func breakInsideOneRead() throws {
        var trace = PlantedTrace(initial: arena)
        // Page 2 becomes read-write, then page 4 none, merging pages 3 to 5.
        trace.mutations = [(2, readWrite, 100), (4, none, 200)]
        let lines = [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none), line(2, 3, readOnly),
                     line(3, 6, none), PlantedTrace.after]
        trace.snapshots = [[.init(at: 50, duration: 300, lines: lines)]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.epochs == 2)
        #expect(snapshot.anomalies.count == 1)
        let anomaly = try #require(snapshot.anomalies.first)
        #expect(anomaly.kind == .intraRead)
        #expect(anomaly.boundary == Boundary(
            beforeRead: 0, afterRead: 0, byteOffset: textLength(Array(lines.prefix(4))), line: 5))
        // Page 2's change made the printed `r--p` line stale; page 4's
        // change touched nothing printed before the break.
        #expect(anomaly.culprits == [0])
        #expect(anomaly.start == addressString(PlantedTrace.address(page: 2)))
        #expect(anomaly.end == addressString(PlantedTrace.address(page: 3)))
    }

    @Test func breakMovesToTheReadBoundaryWhenItCan() throws {
        var trace = mergingTrace()
        trace.mutations.append((4, readWrite, 250))
        // Read 1's first line (page 3, none) is true at every state, so
        // greedy alone would break only at page 4's line, inside read 1; the
        // break belongs at the read boundary before it.
        let firstRead = [PlantedTrace.before, line(0, 1, readWrite), line(1, 2, none), line(2, 3, readOnly)]
        trace.snapshots = [[
            .init(at: 50, lines: firstRead),
            .init(at: 300, lines: [line(3, 4, none), line(4, 5, readWrite), line(5, 6, none), PlantedTrace.after]),
        ]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.anomalies.count == 1)
        let anomaly = try #require(snapshot.anomalies.first)
        #expect(anomaly.kind == .torn)
        #expect(anomaly.boundary == Boundary(beforeRead: 0, afterRead: 1, byteOffset: textLength(firstRead), line: 5))
        #expect(anomaly.culprits == [0, 1])
        #expect(snapshot.epochList.map(\.firstLine) == [2, 5])
    }

    @Test func aGapThatTheExplainingStateHadMappedIsTorn() throws {
        // Page 0 read-only, pages 1-2 read-write, page 3 read-only. While the
        // reader is between page 0 and page 3, page 0 becomes none and pages
        // 1-2 are unmapped. Page 0's line is true only at state 0, where
        // pages 1-2 were mapped: no state shows this snapshot.
        var trace = PlantedTrace(initial: [readOnly, readWrite, readWrite, readOnly])
        trace.mutations = [(0, none, 100), (1, unmapped, 200), (2, unmapped, 300)]
        let firstRead = [PlantedTrace.before, line(0, 1, readOnly)]
        trace.snapshots = [[
            .init(at: 50, lines: firstRead),
            .init(at: 400, lines: [line(3, 4, readOnly), PlantedTrace.after]),
        ]]
        let report = try trace.analyze()
        #expect(report.modelValidated)
        let snapshot = report.snapshots[0]
        #expect(!snapshot.consistent)
        #expect(snapshot.epochs == 1)
        #expect(snapshot.anomalies.count == 1)
        let anomaly = try #require(snapshot.anomalies.first)
        // Pages 1-2 were not mapped throughout (no `missing`, the kernel kept
        // its promise), but page 0's line never coexisted with their absence.
        #expect(anomaly.kind == .torn)
        #expect(snapshot.completeCoverage)
        #expect(anomaly.start == addressString(PlantedTrace.address(page: 1)))
        #expect(anomaly.end == addressString(PlantedTrace.address(page: 3)))
        #expect(anomaly.boundary == Boundary(beforeRead: 0, afterRead: 1, byteOffset: textLength(firstRead), line: 3))
        // The unmaps made the gap; page 0's mprotect did not touch it.
        #expect(anomaly.culprits == [1, 2])
        #expect(snapshot.rwPagesObserved == 0)

        // The same reads once both unmaps are done, with page 0 still
        // read-only in the truth: a snapshot that existed.
        var quiet = PlantedTrace(initial: [readOnly, readWrite, readWrite, readOnly])
        quiet.mutations = [(1, unmapped, 100), (2, unmapped, 200)]
        quiet.snapshots = [[
            .init(at: 300, lines: firstRead),
            .init(at: 400, lines: [line(3, 4, readOnly), PlantedTrace.after]),
        ]]
        let existed = try quiet.analyze().snapshots[0]
        #expect(existed.consistent)
        #expect(existed.explainingState == 2)
    }

    @Test func lineNoStateExplainsIsPhantom() throws {
        var trace = mergingTrace()
        var lines = trace.maps(at: 2)
        let phantomIndex = lines.firstIndex(of: line(4, 5, readOnly))!
        lines[phantomIndex] = line(4, 5, 5)  // r-x: never set
        trace.snapshots = [[.init(at: 1000, lines: lines)]]
        let report = try trace.analyze()
        let snapshot = report.snapshots[0]
        #expect(snapshot.anomalies.map(\.kind) == [.phantom])
        #expect(snapshot.anomalies.first?.boundary.line == phantomIndex + 1)
        #expect(!snapshot.consistent)
        #expect(snapshot.epochs == 1)
    }

    @Test func readsWhileNothingMutatesAreConsistent() throws {
        var trace = mergingTrace()
        trace.snapshots = [
            [.init(at: 20, lines: Array(trace.maps(at: 0).prefix(3))), .init(at: 40, lines: Array(trace.maps(at: 0).dropFirst(3)))],
            [.init(at: 150, lines: Array(trace.maps(at: 1).prefix(4))), .init(at: 170, lines: Array(trace.maps(at: 1).dropFirst(4)))],
            [.init(at: 500, lines: Array(trace.maps(at: 2).prefix(2))), .init(at: 520, lines: Array(trace.maps(at: 2).dropFirst(2)))],
        ]
        let report = try trace.analyze()
        #expect(report.snapshots.map(\.consistent) == [true, true, true])
        #expect(report.snapshots.map(\.explainingState) == [0, 1, 2])
        #expect(report.totals.raceAnomalies == 0)
        #expect(report.totals.unmodeled == 0)
        #expect(report.guarantees.noOverlap.holds && report.guarantees.completeCoverage.holds)
    }
}
