// The survey's real readers: real installed programs recorded unmodified by
// `mapsrace record --workload rolling -- COMMAND` (small: 300 pages, 2
// snapshots), and the check of their requests against the tool's profile.

import Foundation
import MapsRecorder
@testable import MapsSurvey
import MapsTestSupport
import MapsTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The reader parameter `command` of a trace's header.
func recordedCommand(_ trace: String) throws -> String? {
    let reader = try TraceReader(path: trace)
    _ = try reader.next()
    return reader.header?.readerParameters[parameter: "command"]
}

@Suite(.serialized) struct RealReaderSurveys {
    /// First request size each program must make (its profile's first).
    static let firstRequest: [String: UInt64] = [
        "real-cat": 131072, "real-pmap": 1024, "real-python3": 8192, "real-psutil": 8192, "real-eu-stack": 1024,
        "real-perf": 8192, "real-gdb": 4095,
    ]

    /// Snapshots one run takes: gdb's run reads the maps twice from offset 0
    /// to the end (measured), the others once.
    static func snapshotsPerRun(_ name: String) -> Int { name == "real-gdb" ? 2 : 1 }

    @Test(arguments: ["real-cat", "real-pmap", "real-python3", "real-psutil", "real-eu-stack", "real-perf", "real-gdb"])
    func aRealProgramsCellComesFromItsRecordingAndMatchesItsProfile(_ name: String) throws {
        let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
        let real = try #require(RealReaders.named(name))
        #expect(real.missingProgram() == nil, "tools/bootstrap.sh installs \(real.package)")
        let directory = try freshDirectoryPath()
        defer { remove(directory) }
        let plan = SurveyPlan(
            workloads: ["rolling"], readers: [name], repetitions: 1, pageCount: 300, snapshotCount: 2, seed: 3,
            directory: directory, recorderExecutable: binary, toolVersion: "test",
            // A program that hangs under the tracer (gdb did, before the
            // tracer let its PTRACE_TRACEME child go) fails here instead of
            // stalling the test command.
            recordingTimeoutSeconds: 120)
        let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
        let cell = try #require(result.cells.first)
        #expect(cell.failures.isEmpty, "\(cell.failures)")
        let recording = try #require(cell.recordings.first)
        // The cell's snapshots are the program's: its command line is the
        // trace's reader, and it took every snapshot.
        let expectedCommand = real.commandLine(output: String(recording.trace.dropLast(".mrtrace".count)) + ".out")
            .joined(separator: " ")
        #expect(try recordedCommand(recording.trace) == expectedCommand)
        #expect(recording.report.reader == "external")
        #expect(cell.statistics.deliveredSnapshots == 2 * Self.snapshotsPerRun(name))
        let pattern = try #require(cell.statistics.pattern)
        #expect(pattern.profile == real.profile)
        #expect(pattern.snapshots == 2 * Self.snapshotsPerRun(name))
        #expect(pattern.reads >= 2)
        #expect(pattern.firstRequests.first == Self.firstRequest[name])
        #expect(pattern.matches, "\(pattern.summary)")
        // The table says so.
        #expect(SurveyTable.markdown(result).contains("| \(real.profile): matches |"))
    }

    @Test func aPatternThatDiffersIsReportedWithTheFirstDifference() throws {
        let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
        let directory = try freshDirectoryPath()
        defer { remove(directory) }
        let plan = SurveyPlan(
            workloads: ["rolling"], readers: ["real-cat"], repetitions: 1, pageCount: 300, snapshotCount: 2,
            seed: 3, directory: directory, recorderExecutable: binary, toolVersion: "test")
        let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
        let trace = try #require(result.cells.first?.recordings.first?.trace)
        let snapshots = try RequestPatternCheck.snapshotChunks(trace: trace)
        #expect(snapshots.count == 2)

        // cat's 128 KiB reads are not pmap's 1 KiB nor perf's 8 KiB.
        let asPmap = RequestPatternCheck.compare(snapshots: snapshots, profile: "pmap", file: "maps")
        #expect(!asPmap.matches)
        #expect(asPmap.difference == "snapshot 0 read 0 asked 131072 bytes, pmap asks 1024")
        #expect(asPmap.summary == "differs: snapshot 0 read 0 asked 131072 bytes, pmap asks 1024")
        let asPerf = RequestPatternCheck.compare(snapshots: snapshots, profile: "perf", file: "maps")
        #expect(asPerf.difference == "snapshot 0 read 0 asked 131072 bytes, perf asks 8192")
        // The right sizes but the wrong file: cat read maps, not smaps.
        let asSmaps = RequestPatternCheck.compare(snapshots: snapshots, profile: "cat", file: "smaps")
        #expect(asSmaps.difference == "snapshot 0 read maps, expected smaps")
        // A profile whose requests depend on more than the bytes returned.
        let asBreakpad = RequestPatternCheck.compare(snapshots: snapshots, profile: "breakpad", file: "maps")
        #expect(asBreakpad.difference == "profile breakpad has no request rule to compare with")
        #expect(RequestPatternCheck.compare(snapshots: snapshots, profile: "cat", file: "maps").matches)

        // A read at an offset that skips bytes.
        var skipped = snapshots
        skipped[0][1].offset += 1
        let asSkipped = RequestPatternCheck.compare(snapshots: skipped, profile: "cat", file: "maps")
        #expect(asSkipped.difference == "snapshot 0 read 1 at offset \(skipped[0][1].offset), not \(skipped[0][1].offset - 1)")

        // The cell combines its recordings and names the one that differs.
        var cell = try #require(result.cells.first)
        cell.recordings[0].pattern = asPmap
        #expect(cell.statistics.pattern?.difference == "recording 0: snapshot 0 read 0 asked 131072 bytes, pmap asks 1024")
        #expect(cell.statistics.pattern?.matches == false)
    }

    @Test func pythonReadAllRequestsFollowTheReturnedBytes() {
        // CPython's readall: 8192, the rest of the buffer, then new_buffersize.
        let requests = RequestRule.pythonReadAll.requests(returns: [4000, 4192, 8448, 100, 0])
        // 8192 + max(256 + 8192, 8192) = 16640; 16640 + 16896 = 33536.
        #expect(requests == [8192, 4192, 8448, 16896, 16796])
        // gdb: 4095 into a 4096-byte buffer, doubled once more than half full.
        let gdb = RequestRule.preadGrowing(first: 4096, padding: 1).requests(returns: [4000, 95, 3000, 0])
        #expect(gdb == [4095, 4191, 4096, 9288])
    }

    @Test func anUnknownOrMissingRealReaderFailsItsCellOnly() throws {
        let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
        let directory = try freshDirectoryPath()
        defer { remove(directory) }
        let plan = SurveyPlan(
            workloads: ["rolling"], readers: ["real-nothing", "real-cat"], repetitions: 1, pageCount: 300,
            snapshotCount: 1, seed: 3, directory: directory, recorderExecutable: binary, toolVersion: "test")
        let result = try Survey(plan: plan, exitStatus: exitStatusByKind).run()
        let failure = try #require(result.cells[0].failures.first)
        #expect(failure.message.hasPrefix("real reader real-nothing: not in the table (real-cat, real-pmap"))
        #expect(result.cells[1].failures.isEmpty)
        #expect(result.cells[1].recordings.count == 1)
    }
}
