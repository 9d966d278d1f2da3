// PROCMAP_QUERY ioctls on a followed maps descriptor: logged as traced
// syscalls (arguments, result, errno, times); a single query (not a walk
// from address 0) is not turned into a snapshot (docs/recording.md,
// "PROCMAP_QUERY walks"; walks: ProcmapQueryWalkTests).

import Foundation
import MapsTrace
import Testing

@Suite struct ProcmapQueryLogTests {
    @Test func queryOnAMapsDescriptorIsLoggedNotASnapshot() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-query")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program)
        try #require(run.status == 0, "\(run.error)")
        let query = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("query ") }, "\(run.output)")
        // "query RESULT ERRNO START END": the kernel answered (6.11+ is needed).
        let fields = query.split(separator: " ")
        try #require(fields[1] == "0", "PROCMAP_QUERY failed here: \(query)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let open = try #require(all.syscalls.first { $0.name == "openat" && $0.errno == 0 })
        let ioctls = all.syscalls.filter { $0.name == "ioctl" }
        // Only the query: ioctls on other descriptors (a terminal's) are not logged.
        try #require(ioctls.count == 1)
        let logged = ioctls[0]
        #expect(logged.argument(0) == UInt64(open.result))
        #expect(logged.argument(1) == 0xc068_6611)  // _IOWR('f', 17, 104 bytes)
        #expect(logged.result == 0 && logged.errno == 0)
        #expect(logged.tBegin > open.tEnd && logged.tEnd >= logged.tBegin)
        #expect(logged.snapshot == -1)
        // One snapshot: the read that followed, from offset 0, whole.
        #expect(all.sources.count == 1)
        let text = try #require(all.snapshotTexts[0])
        #expect(run.output.contains("read \(text.count)\n"))
        #expect(all.chunks.first?.offset == 0)
    }

    /// Only queries, no read: exit 28 with 0 snapshots, and the message says
    /// the file was opened (not "never opened"); the query is in the trace.
    @Test func queriesWithoutAReadMakeNoSnapshotAndSaySo() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-query")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "query-only")
        #expect(run.status == 28, "\(run.error)")
        #expect(run.error.contains("opened a maps file but never read it"), "\(run.error)")
        #expect(run.error.contains("1 single PROCMAP_QUERY query included"), "\(run.error)")
        #expect(!run.error.contains("never opened"))
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.sources.isEmpty)
        #expect(all.syscalls.filter { $0.name == "ioctl" }.count == 1)
    }
}
