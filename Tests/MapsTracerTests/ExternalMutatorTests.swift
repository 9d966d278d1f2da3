// Case 3 (`record --reader R -- CMD`): the built-in reader reads the maps of
// an external multithreaded mutator.

import Foundation
import MapsTrace
import Testing

@Suite struct ExternalMutatorTests {
    @Test func threadsThatMapProtectAndUnmapAreAllLogged() throws {
        let workspace = try Workspace()
        let demo = try workspace.compile("jit-demo")
        let run = try workspace.mapsrace(
            "record", "--reader", "chromium", "--snapshots", "5", "--json", "-o", "t.mrtrace", "--", demo, "4", "150", "1500")
        try #require(run.status == 0, "\(run.error)")
        let json = try parseJSON(run.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(json["snapshots"] as? Int == 5)
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.header?.reader == "chromium")
        let root = try #require(all.processes.first)
        #expect(root.roles.contains(.read) && root.roles.contains(.mutator) && !root.roles.contains(.reader))
        // (The demo stays 1.5 s after its threads joined, so that the reader,
        // a process of its own that starts at the demo's exec, gets its five
        // snapshots however loaded the machine is.)
        // Four threads, each 150 rounds of mmap, mprotect, munmap: every one logged, with its thread.
        let threads = all.forks.filter { $0.kind == .thread }
        #expect(threads.count == 4)
        for thread in threads {
            let calls = all.syscalls.filter { $0.tid == thread.childTID }
            #expect(calls.filter { $0.name == "mprotect" && $0.argument(2) == 5 }.count == 150)  // PROT_READ|PROT_EXEC
            #expect(calls.filter { $0.name == "munmap" && $0.argument(1) == 4 * 4096 }.count == 150)
            #expect(calls.filter { $0.name == "mmap" && $0.argument(1) == 4 * 4096 && $0.errno == 0 }.count == 150)
        }
        // Every snapshot read the command's address space, from the built-in reader.
        #expect(all.sources.count == 5)
        #expect(all.sources.allSatisfy { $0.targetPID == root.pid && $0.readerPID != root.pid })
        // The model validates, or says why not and judges page by page.
        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let model = try #require(try parseJSON(analysis.output)["model"] as? [String: Any])
        if model["validated"] as? Bool != true {
            #expect(model["match"] as? String == "page_level")
            #expect((model["detail"] as? String)?.isEmpty == false)
        }
    }
}
