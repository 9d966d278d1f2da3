// A tracee that calls ptrace(PTRACE_TRACEME) is let go at that call, so its
// parent becomes its tracer as without mapsrace (gdb's start-up check does
// this): the recording must end with the program's own status, not hang.

import Foundation
import MapsTrace
import Testing

@Suite struct TracemeTests {
    @Test func childTracedByItsParentIsLetGo() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("traceme")
        // Bounded: a tracer that kept the child would leave the parent's
        // waitpid (and so the recording) waiting for ever.
        let run = try Workspace.run(
            "/usr/bin/env", ["timeout", "-s", "KILL", "60", try mapsraceBinary(), "record", "--json", "-o", "t.mrtrace", "--", program],
            in: workspace.path)
        try #require(run.status == 0, "status \(run.status): \(run.error)")
        // The parent saw its child's SIGSTOP, resumed it, and saw it exit.
        let said = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("child ") }, "output: \(run.output)")
        let words = said.split(separator: " ")
        let childPID = try #require(Int32(words[1]))
        // The child keeps the seccomp filter mapsrace installed; its new tracer
        // (the parent) does not ask for seccomp stops, so the kernel fails every
        // filtered syscall of it with ENOSYS (38): its open of its maps did.
        #expect(words.last == "38", "\(said)")
        let json = try parseJSON(run.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(json["command_status"] as? String == "exited with status 5")

        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.trailer?.interrupted == false)
        let root = try #require(all.processes.first)
        #expect(root.waitStatus == 5 << 8)
        // The child: forked (logged), then let go: never reaped by mapsrace.
        #expect(all.forks.contains { $0.childTID == childPID && $0.parentTID == root.pid && $0.kind == .fork })
        let child = try #require(all.processes.first { $0.pid == childPID })
        #expect(child.parentPID == root.pid)
        #expect(child.waitStatus == -1)
        #expect(child.tExit == child.tFirstSeen)  // t_exit 0: never exited under mapsrace
        // Nothing of it after the detach: only the parent's maps were read.
        #expect(all.syscalls.allSatisfy { $0.pid != childPID || $0.name != "openat" })
        #expect(all.sources.count == 1)
        #expect(all.sources.allSatisfy { $0.targetPID == root.pid && $0.readerPID == root.pid })
    }
}
