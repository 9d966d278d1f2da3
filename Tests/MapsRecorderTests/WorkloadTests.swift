// The workloads beyond the seed's (split-merge, resize, remap, churn), each
// recorded for real by the built `mapsrace` on a small arena (a few hundred
// pages, 3 snapshots: well under a second each), then replayed.

import MapsAnalysis
import MapsModel
import MapsTrace
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

private let pageCount = 400
private let snapshotCount = 3

/// The workloads this file is about: every one but the seed's.
private let newWorkloads: [Workload] = [.splitMerge, .resize, .remap, .churn]

/// Records `workload` into a fresh directory; the loaded trace, its
/// analysis and the analysis report (all read before the directory goes).
private func recordWorkload(
    _ workload: Workload, seed: UInt64, reader: String = "chromium"
) throws -> (LoadedTrace, TraceAnalysis, AnalysisReport) {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let run = try runMapsrace(
        ["record", "--workload", workload.rawValue, "--pages", "\(pageCount)", "--snapshots", "\(snapshotCount)",
         "--seed", "\(seed)", "--reader", reader, "-o", "trace.mrtrace", "--json"],
        in: directory)
    try #require(run.exitCode == 0, "record --workload \(workload) failed: \(run.standardError)")
    #expect(run.standardOutput.contains("\"workload\": \"\(workload.rawValue)\""))
    let path = directory + "/trace.mrtrace"
    let analysis = try TraceAnalysis(.file(path))
    return (try LoadedTrace(path: path), analysis, try analysis.run())
}

/// A mutation with its addresses made relative to the arena, so runs with
/// different arena placements compare.
private struct ArenaSyscall: Equatable {
    var kind: MutationKind
    var offset: UInt64
    var length: UInt64
    var prot: Int32
    var flags: Int32
    var newOffset: UInt64?
    var newLength: UInt64

    init(_ mutation: MutationRecord, arena: ArenaRecord) {
        kind = mutation.kind
        offset = mutation.address - arena.start
        length = mutation.length
        prot = mutation.prot
        flags = mutation.flags
        newOffset = mutation.newAddress == 0 ? nil : mutation.newAddress - arena.start
        newLength = mutation.newLength
    }
}

@Suite(.serialized) struct WorkloadRecordings {
    @Test(arguments: newWorkloads)
    func replayReproducesTheFinalQuiescentMaps(workload: Workload) throws {
        let (trace, analysis, report) = try recordWorkload(workload, seed: 17)
        #expect(trace.completion == .complete)
        let arena = try #require(trace.arena)
        let header = try #require(trace.header)
        #expect(header.workload == workload.rawValue)
        #expect(header.workloadParameters[parameter: "pages"] == "\(pageCount)")
        #expect(header.workloadParameters == [
            TraceParameter("pages", "\(pageCount)"), TraceParameter("noreserve", "1"),
            TraceParameter("guard_pages", "shared-anonymous"),
        ] + workload.traceParameters(pageCount: pageCount))

        // The model replays every mutation and lands on the final read.
        #expect(analysis.model.validated, "\(analysis.model.detail): \(analysis.model.examples)")
        #expect(analysis.truth.unmodeledMutations.isEmpty)
        #expect(analysis.truth.baseState < analysis.truth.finalState)
        let finalText = try #require(analysis.finalText)
        let observed = finalText.lines.filter { $0.end > arena.start && $0.start < arena.end }
        let replayed = analysis.truth.arenaLines(at: analysis.truth.finalState)
        #expect(replayed == observed)
        // Neither side is trivial: the arena is many lines.
        #expect(observed.count >= pageCount / 8)

        // No line outside the arena changed while the workload ran.
        #expect(report.totals.unmodeled == 0)
    }

    @Test(arguments: newWorkloads)
    func mutationsAreDenseSuccessfulAndInsideTheArena(workload: Workload) throws {
        let (trace, _, _) = try recordWorkload(workload, seed: 5)
        let arena = try #require(trace.arena)
        let pageSize = try #require(trace.header).pageSize
        let mutations = trace.mutations
        let expected = workload.mutationCount(pageCount: pageCount)
        #expect(mutations.count == expected)
        #expect(try #require(trace.trailer).mutations == UInt64(expected))
        #expect(mutations.map(\.sequence) == (0..<UInt64(expected)).map { $0 })
        #expect(mutations.allSatisfy { $0.succeeded && $0.result != -1 })
        for (earlier, later) in zip(mutations, mutations.dropFirst()) {
            #expect(earlier.tBegin <= earlier.tEnd && earlier.tEnd <= later.tBegin)
        }
        for mutation in mutations {
            #expect(mutation.address >= arena.start && mutation.address + mutation.length <= arena.end)
            #expect(mutation.length > 0 && mutation.length % pageSize == 0)
            switch mutation.kind {
            case .mmap:
                #expect(UInt64(bitPattern: mutation.result) == mutation.address)
                #expect(mutation.flags == MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE)
            case .mremap:
                let destination = UInt64(bitPattern: mutation.result)
                #expect(destination >= arena.start && destination + mutation.newLength <= arena.end)
                if mutation.flags & mremapFixed != 0 { #expect(destination == mutation.newAddress) }
            case .mprotect, .munmap:
                #expect(mutation.result == 0)
            }
        }
        // Each workload makes the calls it is about, and only those.
        let kinds = Set(mutations.map(\.kind))
        switch workload {
        case .splitMerge: #expect(kinds == [.mmap])
        case .resize: #expect(kinds == [.mmap, .mremap])
        case .remap: #expect(kinds == [.mmap, .mremap, .mprotect])
        case .churn: #expect(kinds == [.mmap, .munmap])
        case .rolling: Issue.record("not one of the new workloads")
        }
        if workload == .remap {
            let moves = mutations.filter { $0.kind == .mremap }
            #expect(moves.allSatisfy { $0.flags == mremapMayMove | mremapFixed | mremapDontUnmap })
            #expect(moves.allSatisfy { $0.length == pageSize && $0.newLength == pageSize })
        }
        if workload == .resize {
            let resizes = mutations.filter { $0.kind == .mremap }
            #expect(resizes.allSatisfy { $0.flags == 0 && UInt64(bitPattern: $0.result) == $0.address })
        }
    }

    @Test(arguments: newWorkloads)
    func theSameSeedGivesTheSameSyscalls(workload: Workload) throws {
        func syscalls(seed: UInt64, reader: String) throws -> [ArenaSyscall] {
            let (trace, _, _) = try recordWorkload(workload, seed: seed, reader: reader)
            let arena = try #require(trace.arena)
            return trace.mutations.map { ArenaSyscall($0, arena: arena) }
        }
        let first = try syscalls(seed: 99, reader: "chromium")
        let again = try syscalls(seed: 99, reader: "read:4096")
        let other = try syscalls(seed: 100, reader: "chromium")
        #expect(first.count == workload.mutationCount(pageCount: pageCount))
        #expect(first == again)
        #expect(first != other)
        #expect(first.count == other.count)
    }
}

@Suite struct WorkloadPlans {
    @Test func everyWorkloadParsesByItsName() throws {
        for workload in Workload.allCases {
            #expect(try Workload(parsing: workload.description) == workload)
        }
        #expect(try Workload(parsing: "split-merge") == .splitMerge)
        #expect(throws: RecordingError.invalidWorkload("splitmerge")) { try Workload(parsing: "splitmerge") }
    }

    @Test func mutationCountsFollowTheGeometry() {
        // 4-page groups, every odd one mmap'd read-only, 2 mmaps per iteration.
        #expect(Workload.splitMerge.mutationCount(pageCount: 400) == 50 + 2 * 400)
        #expect(Workload.splitMerge.mutationCount(pageCount: 402) == 50 + 2 * 402)
        // 4-page cells, one mmap each, then 2 mremaps per iteration.
        #expect(Workload.resize.mutationCount(pageCount: 400) == 100 + 2 * 3 * 400)
        #expect(Workload.remap.mutationCount(pageCount: 400) == 100 + 2 * 400)
        // 4-page cells, one mmap each, then one mmap or munmap per iteration.
        #expect(Workload.churn.mutationCount(pageCount: 400) == 100 + 2 * 400)
        #expect(Workload.rolling.mutationCount(pageCount: 400) == RollingWorkload.mutationCount(pageCount: 400))
    }

    @Test func mapCountBoundsCoverEveryLineTheArenaCanHave() {
        // One line per page is the most any arena can take.
        for workload in Workload.allCases {
            #expect(workload.maximumArenaLines(pageCount: 1000) <= 1000)
        }
        #expect(Workload.splitMerge.maximumArenaLines(pageCount: 1000) == 250 + 3)
        #expect(Workload.resize.maximumArenaLines(pageCount: 1000) == 501)
    }

    @Test func tooSmallAnArenaIsRefused() {
        let configuration = RecordingConfiguration(
            workload: .splitMerge, pageCount: 7, seed: 1, outputPath: "/dev/null", toolVersion: "test")
        #expect(throws: RecordingError.invalidConfiguration("--pages must be at least 8 for split-merge (got 7)")) {
            try configuration.validate()
        }
        #expect(RecordingConfiguration(workload: .churn, seed: 1, toolVersion: "test").pageCount == 16384)
        #expect(RecordingConfiguration(seed: 1, toolVersion: "test").pageCount == 65000)
    }
}
