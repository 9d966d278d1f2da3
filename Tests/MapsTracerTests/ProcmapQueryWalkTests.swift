// PROCMAP_QUERY walks of traced programs (docs/recording.md, "PROCMAP_QUERY
// walks"): the query and the answer copied out of the tracee (record 0x44),
// a walk turned into a snapshot rendered as the built-in procmap-query
// reader renders its own, judged by analyze; single and refused queries
// logged, counted, not snapshots.

import Foundation
import MapsTrace
import Testing

extension Array where Element == TraceRecord {
    var procmapQueries: [TracedProcmapQuery] {
        compactMap { if case .traced(.procmapQuery(let q)) = $0 { q } else { nil } }
    }
}

@Suite struct ProcmapQueryWalkTests {
    /// The program walks its own maps and renders the answers itself: the
    /// trace's snapshot is byte for byte its text; the single query after
    /// the walk is logged but not a snapshot; analyze judges the walk.
    @Test func walkOfItsOwnMapsIsTheTextTheProgramRendered() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-walk")
        let run = try workspace.mapsrace("record", "--json", "-o", "t.mrtrace", "--", program, "self", "own.txt")
        try #require(run.status == 0, "\(run.error)")
        let walkLine = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("walk ") }, "\(run.output)")
        let numbers = walkLine.split(separator: " ").compactMap { Int($0) }
        let (queries, lines) = (numbers[0], numbers[1])
        #expect(queries == lines + 1)  // the last one is ENOENT
        #expect(run.output.contains("single 0 0\n"))
        let own = try [UInt8](Data(contentsOf: URL(fileURLWithPath: workspace.file("own.txt"))))

        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.sources.count == 1)
        #expect(all.snapshotTexts[0] == own)
        let chunks = all.chunks
        #expect(chunks.count == queries)
        // One chunk per query: requested = the query address, each the
        // previous answer's end; the last (ENOENT) 0 bytes with errno 0.
        #expect(chunks.first?.requested == 0 && chunks.first?.offset == 0)
        let logged = all.procmapQueries
        let walk = logged.filter { $0.snapshot == 0 }
        try #require(walk.count == queries)
        for (i, query) in walk.enumerated() {
            #expect(query.queryFlags == TracedProcmapQuery.coveringOrNext && query.size == 104 && query.queryCopied)
            #expect(chunks[i].requested == query.queryAddress)
            if i > 0 { #expect(query.queryAddress == walk[i - 1].answer?.vmaEnd) }
            if i < lines {
                let answer = try #require(query.answer)
                #expect(query.errno == 0 && query.nameBufferSize == 4097)
                #expect(chunks[i].returned == Int64(chunks[i].bytes.count))
                let line = String(decoding: chunks[i].bytes, as: UTF8.self)
                #expect(line.hasPrefix(String(answer.vmaStart, radix: 16)), "\(line)")
                #expect(answer.nameSize == (answer.name.isEmpty ? 0 : UInt32(answer.name.count + 1)))
                #expect(line.hasSuffix(String(decoding: answer.name, as: UTF8.self) + "\n"))
            }
        }
        #expect(walk.last?.errno == ENOENT && walk.last?.answer == nil)
        #expect(chunks.last?.returned == 0 && chunks.last?.errno == 0)
        #expect(all.ends.first?.flags.contains(.reachedEOF) == true)
        // Every query's traced syscall record says which snapshot it is in.
        let ioctls = all.syscalls.filter { $0.name == "ioctl" }
        #expect(ioctls.count == queries + 1)
        for query in logged {
            let call = try #require(ioctls.first { $0.sequence == query.syscall })
            #expect(call.snapshot == query.snapshot && call.errno == query.errno)
        }
        // The single query (the mapping of main): answered, not in a walk.
        let single = try #require(logged.last)
        #expect(single.snapshot == -1 && single.queryFlags == 0 && single.answer != nil)
        // It asked for no name: none was written, none copied.
        #expect(single.nameBufferSize == 0 && single.answer?.nameSize == 0 && single.answer?.name.isEmpty == true)
        #expect(single.answer.map { $0.vmaFlags & 4 != 0 } == true)  // main's code is executable
        let json = try parseJSON(run.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(json["snapshots"] as? Int == 1)
        #expect(json["procmap_queries"] as? Int == queries + 1)
        #expect(json["procmap_walk_queries"] as? Int == queries)

        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let report = try parseJSON(analysis.output)
        let snapshot = try #require((report["snapshots"] as? [[String: Any]])?.first)
        #expect(snapshot["consistent"] as? Bool == true, "\(snapshot)")
        let whole = try #require(snapshot["whole_space"] as? [String: Any])
        #expect(whole["judged"] as? Bool == true && whole["consistent"] as? Bool == true, "\(whole)")
        let info = try parseJSON(try workspace.mapsrace("info", "--json", "t.mrtrace").output)
        #expect(info["procmap_queries"] as? Int == queries + 1)
        #expect(info["procmap_walk_queries"] as? Int == queries)
        // extract writes the walk as the program wrote it.
        let extracted = try workspace.mapsrace("extract", "t.mrtrace", "-o", "out")
        try #require(extracted.status == 0, "\(extracted.error)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: workspace.file("out/saved-maps-00.txt")))) == own)
    }

    /// The program walks a child's maps while the child maps, protects and
    /// unmaps: every walk is the program's own text, each judged against the
    /// child's address space.
    @Test func walksOfAMutatingChildAreJudgedAgainstItsAddressSpace() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-walk")
        let walks = 4
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "child", "\(walks)", "walk")
        try #require(run.status == 0, "\(run.error)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let child = try #require(all.processes.first { $0.parentPID != 0 })
        try #require(all.sources.count == walks)
        for i in 0..<walks {
            let own = try [UInt8](Data(contentsOf: URL(fileURLWithPath: workspace.file(String(format: "walk-%02d.txt", i)))))
            #expect(all.snapshotTexts[i] == own, "walk \(i)")
            #expect(all.sources[i].targetPID == child.pid && all.sources[i].readerPID == child.parentPID)
        }
        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let report = try parseJSON(analysis.output)
        let spaces = try #require(report["address_spaces"] as? [[String: Any]])
        let childSpace = try #require(spaces.first { $0["pid"] as? Int == Int(child.pid) })
        #expect(childSpace["judged_snapshots"] as? Int == walks, "\(childSpace)")
        let snapshots = try #require(report["snapshots"] as? [[String: Any]])
        #expect(snapshots.count == walks)
        for snapshot in snapshots {
            let whole = try #require(snapshot["whole_space"] as? [String: Any])
            #expect(whole["pid"] as? Int == Int(child.pid) && whole["judged"] as? Bool == true, "\(whole)")
        }
    }

    /// What a kernel without PROCMAP_QUERY answers (ENOTTY: smaps has no such
    /// ioctl) and queries the kernel refuses (EINVAL): logged with the query,
    /// no answer, no snapshot; exit 28 says the queries were single ones.
    @Test(arguments: [("smaps", ENOTTY, 1), ("einval", EINVAL, 2)])
    func refusedQueriesAreLoggedWithoutASnapshot(mode: String, errno: Int32, count: Int) throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-walk")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, mode)
        #expect(run.status == 28, "\(run.error)")
        #expect(run.output.components(separatedBy: "\(mode) -1 \(errno)\n").count == count + 1, "\(run.output)")
        #expect(run.error.contains("opened a maps file but never read it and never walked it with PROCMAP_QUERY"), "\(run.error)")
        #expect(run.error.contains("\(count) single PROCMAP_QUERY quer"), "\(run.error)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.sources.isEmpty && all.chunks.isEmpty)
        let logged = all.procmapQueries
        try #require(logged.count == count)
        for query in logged {
            #expect(query.errno == errno && query.answer == nil && query.snapshot == -1 && query.queryCopied)
            #expect(query.queryFlags & TracedProcmapQuery.coveringOrNext != 0 && query.queryAddress == 0)
        }
        if mode == "einval" {
            #expect(logged[0].size == 16 && logged[1].size == 104 && logged[1].queryFlags == 0x8010)
        }
    }

    /// A walk that asks for no names is no snapshot (its lines would lack
    /// every path): its queries are single ones, each answered and logged.
    @Test func aWalkWithoutNamesIsSingleQueries() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("procmap-walk")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "noname")
        #expect(run.status == 28, "\(run.error)")
        let line = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("noname ") }, "\(run.output)")
        let queries = try #require(Int(line.split(separator: " ")[1]))
        #expect(run.error.contains("\(queries) single PROCMAP_QUERY queries included"), "\(run.error)")
        let (all, _) = try records(of: workspace.file("t.mrtrace"))
        let logged = all.procmapQueries
        #expect(logged.count == queries && all.chunks.isEmpty)
        #expect(logged.allSatisfy { $0.snapshot == -1 && $0.nameBufferSize == 0 })
        #expect(logged.dropLast().allSatisfy { $0.answer != nil && $0.answer?.name.isEmpty == true })
        #expect(logged.last?.errno == ENOENT)
    }

}

/// Traces written before record 0x44 (a query was then only its traced
/// syscall record) read and analyze as before; the walk's snapshot records
/// alone carry everything the analysis uses.
@Suite struct ProcmapQueryOlderTraceTests {
    /// The same trace without its 0x44 records.
    func withoutQueryRecords(_ source: String, to destination: String) throws -> Int {
        let (all, _) = try records(of: source)
        let writer = try TraceWriter(path: destination)
        var dropped = 0
        for record in all {
            if case .traced(.procmapQuery) = record { dropped += 1; continue }
            try writer.append(record)
        }
        try writer.finish()
        return dropped
    }

    @Test(arguments: [["procmap-query"], ["procmap-walk", "self", "own.txt"]])
    func aTraceWithoutQueryRecordsAnalyzesTheSame(command: [String]) throws {
        let workspace = try Workspace()
        let program = try workspace.compile(command[0])
        let run = try workspace.mapsrace(["record", "-o", "new.mrtrace", "--", program] + command.dropFirst())
        try #require(run.status == 0, "\(run.error)")
        #expect(try withoutQueryRecords(workspace.file("new.mrtrace"), to: workspace.file("old.mrtrace")) >= 1)
        let new = try workspace.mapsrace("analyze", "--json", "new.mrtrace")
        let old = try workspace.mapsrace("analyze", "--json", "old.mrtrace")
        try #require(new.status == 0 && old.status == 0, "\(new.error) \(old.error)")
        #expect(new.output.replacingOccurrences(of: "new.mrtrace", with: "old.mrtrace") == old.output)
        let info = try workspace.mapsrace("info", "--json", "old.mrtrace")
        try #require(info.status == 0, "\(info.error)")
        let fields = try parseJSON(info.output)
        #expect(fields["procmap_queries"] as? Int == 0 && fields["snapshots"] as? Int == 1)
        #expect(fields["complete"] as? Bool == true)
    }
}
