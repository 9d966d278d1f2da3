// The whole-address-space ground truth of `record -- CMD`: file-backed
// lines, the brk heap and several processes, each snapshot judged against
// the address space it read.

import Foundation
import MapsTrace
import Testing

@Suite struct WholeAddressSpaceTests {
    /// Records tools/test-programs/whole-space.c and analyses it.
    func recordWholeSpace(_ workspace: Workspace, fallback: Bool = false) throws
        -> (records: [TraceRecord], analysis: [String: Any])
    {
        let program = try workspace.compile("whole-space")
        let run = try workspace.mapsrace(
            ["record", "--json", "-o", "t.mrtrace", "--", program, workspace.file("data"), "5"] + (fallback ? ["fallback"] : []))
        try #require(run.status == 0, "\(run.error)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        return (all, try parseJSON(analysis.output))
    }

    @Test func everyProcessIsModeledWholeAndEachSnapshotJudgedAgainstItsOwn() throws {
        let workspace = try Workspace()
        let (all, json) = try recordWholeSpace(workspace)
        let processes = all.processes
        try #require(processes.count == 2)
        let parent = processes[0], child = processes[1]
        #expect(child.parentPID == parent.pid)

        // The tracer kept every address space's quiescent reads: the
        // parent's exec'd image (and the stub before it), and the child.
        let maps = all.compactMap { record -> AddressSpaceMaps? in
            if case .traced(.addressSpaceMaps(let m)) = record { m } else { nil }
        }
        for (pid, generation) in [(parent.pid, UInt32(1)), (child.pid, UInt32(0))] {
            #expect(maps.filter { $0.pid == pid && $0.generation == generation && $0.role == .initial }.count == 1)
            #expect(maps.filter { $0.pid == pid && $0.generation == generation && $0.role == .final }.count == 1)
        }

        let spaces = try #require(json["address_spaces"] as? [[String: Any]])
        func space(_ pid: Int32, _ generation: Int) -> [String: Any]? {
            spaces.first { $0["pid"] as? Int == Int(pid) && $0["generation"] as? Int == generation }
        }
        let parentSpace = try #require(space(parent.pid, 1))
        let childSpace = try #require(space(child.pid, 0))
        for s in [parentSpace, childSpace] {
            // The whole address space, not only an arena: validated line for line.
            #expect(s["validated"] as? Bool == true, "\(s)")
            #expect(s["match"] as? String == "exact")
            #expect(s["final_mismatches"] as? Int == 0)
            #expect((s["unmodeled_mutations"] as? Int) == 0)
        }
        // The parent's model went through file-backed mmaps, brk and
        // mprotects of both (its mutations are more than the arena's).
        let parentCalls = all.syscalls.filter { $0.pid == parent.pid && $0.generation == 1 }
        #expect(parentCalls.contains { $0.name == "brk" && $0.errno == 0 })
        #expect(all.fileIdentities.contains { $0.path == workspace.file("data") })
        #expect((parentSpace["mutations"] as? Int ?? 0) >= parentCalls.count { ["mmap", "mprotect", "brk", "munmap"].contains($0.name) })
        // Its final lines: the file's and the heap's are modeled.
        let finalText = try #require(maps.last { $0.pid == parent.pid && $0.generation == 1 && $0.role == .final }?.text)
        let finalLines = String(decoding: finalText, as: UTF8.self).split(separator: "\n")
        #expect(finalLines.filter { $0.hasSuffix(workspace.file("data")) }.count >= 2)
        #expect(finalLines.contains { $0.hasSuffix("[heap]") })
        let unmodeled = try #require(parentSpace["unmodeled_lines"] as? [String])
        #expect(parentSpace["modeled_lines"] as? Int == finalLines.count - unmodeled.count)
        // The stack grew on faults (1 MiB touched below it): no syscall
        // explains its line, which is reported unmodeled; the model validates.
        let initialText = try #require(maps.first { $0.pid == parent.pid && $0.generation == 1 && $0.role == .initial }?.text)
        func stackStart(_ text: [UInt8]) -> UInt64? {
            String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasSuffix("[stack]") }
                .flatMap { UInt64($0.prefix { $0 != "-" }, radix: 16) }
        }
        let grownFrom = try #require(stackStart(initialText)), grownTo = try #require(stackStart(finalText))
        #expect(grownTo + (1 << 19) <= grownFrom)  // 1 MiB below a stack pointer inside the first read's line
        #expect(unmodeled.contains { $0.hasSuffix("[stack]") })
        #expect(unmodeled.contains { $0.hasSuffix("[vdso]") })

        // Snapshots: the parent read its own maps, the child its own.
        let sources = all.sources
        #expect(sources.filter { $0.readerPID == parent.pid }.allSatisfy { $0.targetPID == parent.pid })
        #expect(sources.filter { $0.readerPID == child.pid }.allSatisfy { $0.targetPID == child.pid })
        #expect(sources.filter { $0.readerPID == child.pid }.count == 5)
        let snapshots = try #require(json["snapshots"] as? [[String: Any]])
        #expect(snapshots.count == sources.count)
        for snapshot in snapshots {
            let index = snapshot["index"] as? Int ?? -1
            let source = try #require(sources.first { Int($0.snapshot) == index })
            let whole = try #require(snapshot["whole_space"] as? [String: Any])
            // Judged against the address space it read.
            #expect(whole["pid"] as? Int == Int(source.targetPID))
            #expect(whole["arena_space"] as? Bool == (source.targetPID == parent.pid))
            // A process reading its own maps between its own changes reads
            // a state that existed.
            #expect(whole["judged"] as? Bool == true)
            #expect(whole["consistent"] as? Bool == true, "snapshot \(index): \(whole)")
            #expect(snapshot["consistent"] as? Bool == true)
        }
        #expect(childSpace["consistent_snapshots"] as? Int == 5)

        // replay --pid: the child's model after its last mutation is its
        // final quiescent read (the lines no syscall explains aside).
        let replay = try workspace.mapsrace(
            "replay", "t.mrtrace", "--pid", "\(child.pid)", "--state", "\(childSpace["mutations"] as? Int ?? -1)")
        try #require(replay.status == 0, "\(replay.error)")
        let childFinal = try #require(maps.last { $0.pid == child.pid && $0.role == .final }?.text)
        func explained(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter {
                !$0.hasSuffix("[stack]") && !$0.hasSuffix("[vdso]") && !$0.contains("[vvar") && !$0.hasSuffix("[vsyscall]")
            }
        }
        #expect(explained(replay.output) == explained(String(decoding: childFinal, as: UTF8.self)))
        let nobody = try workspace.mapsrace("replay", "t.mrtrace", "--pid", "1", "--state", "0")
        #expect(nobody.status == 31)
        #expect(nobody.error.contains("no model of the address space of pid 1"))
        // diff of a child's snapshot: against the child's own model, at the state that explains it.
        let childSnapshot = try #require(sources.first { $0.readerPID == child.pid }?.snapshot)
        let diff = try workspace.mapsrace("diff", "t.mrtrace", "--snapshot", "\(childSnapshot)")
        try #require(diff.status == 0, "\(diff.error)")
        #expect(diff.output.contains("reconstructed maps at pid \(child.pid) generation 0 state"))
        #expect(diff.output.contains("no differences"))

        // The child's snapshots hold against its own address space only:
        // its file line protections and unmapped private mapping differ from
        // the parent's at every state.
        let childTexts = all.snapshotTexts.filter { index, _ in sources.contains { Int($0.snapshot) == index && $0.readerPID == child.pid } }
        let parentFinal = Set(finalLines.map(String.init))
        for (_, text) in childTexts {
            let lines = Set(String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init))
            #expect(lines != parentFinal)
        }
    }

    @Test func anAddressSpaceTheLineModelCannotReproduceIsJudgedPageByPageAndSaysWhy() throws {
        let workspace = try Workspace()
        let (all, json) = try recordWholeSpace(workspace, fallback: true)
        let child = try #require(all.processes.dropFirst().first)
        let spaces = try #require(json["address_spaces"] as? [[String: Any]])
        let childSpace = try #require(spaces.first { $0["pid"] as? Int == Int(child.pid) })
        // Two touched anonymous mappings put side by side stay two lines in
        // the kernel (each has its own anon_vma); the syscalls cannot tell.
        #expect(childSpace["validated"] as? Bool == false)
        #expect(childSpace["match"] as? String == "page_level")
        #expect(childSpace["page_level_agrees"] as? Bool == true)
        #expect(childSpace["final_mismatches"] as? Int == 3)
        let detail = try #require(childSpace["detail"] as? String)
        #expect(detail.contains("line mismatches") && detail.contains("judged page by page"))
        #expect((childSpace["examples"] as? [String])?.isEmpty == false)
        // Its snapshots are judged page by page, and still hold.
        let snapshots = try #require(json["snapshots"] as? [[String: Any]])
        let childVerdicts = snapshots.compactMap { $0["whole_space"] as? [String: Any] }.filter { $0["pid"] as? Int == Int(child.pid) }
        #expect(childVerdicts.count == 6)
        #expect(childVerdicts.allSatisfy { $0["match"] as? String == "page_level" && $0["consistent"] as? Bool == true })
        // The parent's address space is unaffected.
        let parentSpace = try #require(spaces.first { $0["pid"] as? Int == Int(all.processes[0].pid) && $0["generation"] as? Int == 1 })
        #expect(parentSpace["validated"] as? Bool == true)
        // The text report says so.
        let text = try workspace.mapsrace("analyze", "t.mrtrace")
        #expect(text.output.contains("NOT validated, judged page by page"))
    }
}
