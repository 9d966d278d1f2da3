// Case 1: the seed's own C program, recorded with `mapsrace record -- ./rolling-mmap`.

import Foundation
import MapsTrace
import Testing

@Suite struct SeedProgramTests {
    /// The seed's listing with its arena shrunk from 65000 to 3000 pages (the
    /// only change: `size_t total = 65000;`), so that the test takes seconds.
    /// The closing note shows the same at 65000 pages.
    func seedProgram(in workspace: Workspace, pages: Int = 3000) throws -> String {
        let listing = try String(contentsOfFile: packageRoot + "/tools/seed-rolling-mmap.c", encoding: .utf8)
        let line = "size_t total = 65000;"
        #expect(listing.contains(line))
        let source = workspace.file("seed.c")
        try listing.replacingOccurrences(of: line, with: "size_t total = \(pages);")
            .write(toFile: source, atomically: true, encoding: .utf8)
        return try workspace.compile("rolling-mmap", source: source, flags: ["-std=gnu11"])
    }

    @Test func snapshotsAreTheFilesTheProgramWrote() throws {
        let workspace = try Workspace()
        try seedProgram(in: workspace)
        let run = try workspace.mapsrace("record", "--json", "-o", "seed.mrtrace", "--", "./rolling-mmap")
        try #require(run.status == 0, "record failed: \(run.error)")
        let summary = try parseJSON(run.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(summary["wait_status"] as? Int == 0)

        // The program's own output: the arena's bounds.
        let bounds = run.output.split(separator: "\n").first { $0.hasPrefix("0x") }.map { $0.split(separator: " ") }
        let arena = try #require(bounds, "the program printed no arena: \(run.output)")

        let (all, completion) = try records(of: workspace.file("seed.mrtrace"))
        #expect(completion == .complete)
        let texts = all.snapshotTexts
        // Snapshot 0 is the parent's saved-maps.txt; 1...20 the child's saved-maps-00...19.
        #expect(texts.count == 21)
        let saved = try Data(contentsOf: URL(fileURLWithPath: workspace.file("saved-maps.txt")))
        #expect(texts[0] == [UInt8](saved))
        for k in 0..<20 {
            let file = workspace.file(String(format: "saved-maps-%02d.txt", k))
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(texts[k + 1] == bytes, "snapshot \(k + 1) differs from \(file)")
        }
        // Who read whose maps: the child read its parent's; the parent its own.
        let processes = all.processes
        try #require(processes.count == 2)
        let parent = processes[0], child = processes[1]
        #expect(child.parentPID == parent.pid)
        #expect(parent.roles == [.reader, .read, .mutator])
        #expect(child.roles.contains(.reader) && !child.roles.contains(.read))
        #expect(all.sources.allSatisfy { $0.targetPID == parent.pid })
        #expect(all.sources.filter { $0.readerPID == child.pid }.count == 20)
        // Every mprotect of the loop was logged, by the parent's thread.
        let mprotects = all.syscalls.filter { $0.name == "mprotect" && $0.pid == parent.pid && $0.generation == 1 }
        #expect(mprotects.count >= 3000 / 2 + 2 * (3000 - 1) + 1)
        // The chunks are fread's: a 4096-byte read first, then 65536-byte ones (glibc
        // reads straight into the caller's buffer when it is at least BUFSIZ).
        let firstChunks = all.chunks.filter { $0.sequence == 0 }
        #expect(firstChunks.allSatisfy { $0.requested == 4096 })

        // analyze: the model validates, and every snapshot in which the
        // seed's script counts 3 or more read-write arena pages (never true:
        // 1 or 2 are) is judged not to have existed. (A count of 0 can be
        // the script's own miss: it skips a line ending exactly at the
        // arena's end, or merged with the mapping above it.)
        let analysis = try workspace.mapsrace("analyze", "--json", "seed.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let json = try parseJSON(analysis.output)
        let model = try #require(json["model"] as? [String: Any])
        #expect(model["validated"] as? Bool == true, "\(model)")
        let extract = try workspace.mapsrace("extract", "seed.mrtrace", "-o", "extracted")
        try #require(extract.status == 0, "\(extract.error)")
        // The seed's script gives the same counts on the snapshots mapsrace
        // extracted as on the program's own files.
        let seedScript = try seedCounts(
            workspace: workspace, start: String(arena[0]), end: String(arena[1]), files: "saved-maps-%02d.txt", from: 0)
        let onExtracted = try seedCounts(
            workspace: workspace, start: String(arena[0]), end: String(arena[1]), files: "extracted/saved-maps-%02d.txt",
            from: 1)
        #expect(onExtracted == seedScript)
        let snapshots = try #require(json["snapshots"] as? [[String: Any]])
        for (k, count) in seedScript.enumerated() where (Int(count) ?? 0) >= 3 {
            let verdict = snapshots.first { $0["index"] as? Int == k + 1 }
            #expect(verdict?["consistent"] as? Bool == false, "snapshot \(k + 1) has \(count) rw pages")
            // The whole address space's model says the same.
            let whole = verdict?["whole_space"] as? [String: Any]
            #expect(whole?["consistent"] as? Bool == false, "snapshot \(k + 1): \(String(describing: whole))")
        }
        // The whole address space of the parent (its image, libraries, heap,
        // stack, not only the arena) validates line for line, and every
        // snapshot is judged against it: the pre-fork one (the parent read
        // itself) is consistent, as the arena's model says.
        let spaces = try #require(json["address_spaces"] as? [[String: Any]])
        let parentSpace = try #require(spaces.first { $0["pid"] as? Int == Int(parent.pid) && $0["generation"] as? Int == 1 })
        #expect(parentSpace["validated"] as? Bool == true, "\(parentSpace)")
        #expect(parentSpace["judged_snapshots"] as? Int == 21)
        for snapshot in snapshots {
            let whole = try #require(snapshot["whole_space"] as? [String: Any])
            #expect(whole["pid"] as? Int == Int(parent.pid) && whole["arena_space"] as? Bool == true)
            if snapshot["consistent"] as? Bool == true { #expect(whole["consistent"] as? Bool == true) }
        }
        #expect((snapshots.first { $0["index"] as? Int == 0 }?["whole_space"] as? [String: Any])?["consistent"] as? Bool == true)
    }

    /// The seed's linux-count-rw-maps.sh on 20 files named by `files` (a
    /// format with one %02d), numbered from `first`.
    func seedCounts(workspace: Workspace, start: String, end: String, files: String, from first: Int) throws -> [String] {
        let script = #"sed -E -e 's/^([^-]+)-([^ ]+) /0x\1 0x\2 /' | gawk -v start="$1" -v end="$2" 'BEGIN{c=0} strtonum($1) >= strtonum(start) && strtonum($2) < strtonum(end) && $3 ~ /^rw/{c+=(strtonum($2) - strtonum($1)) / 4096} END{print c}'"#
        try script.write(toFile: workspace.file("count.sh"), atomically: true, encoding: .utf8)
        var counts: [String] = []
        for k in 0..<20 {
            let run = try Workspace.run(
                "/bin/sh", ["-c", "sh count.sh \(start) \(end) < \(String(format: files, k + first))"],
                in: workspace.path)
            try #require(run.status == 0, "\(run.error)")
            counts.append(run.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return counts
    }
}
