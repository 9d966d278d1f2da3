// `record -- CMD`'s errors: each a clear message and its own exit status.

import Foundation
import MapsTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TracerErrorTests {
    @Test func commandNotFound() throws {
        let workspace = try Workspace()
        let run = try workspace.mapsrace("record", "--", "no-such-command-mapsrace")
        #expect(run.status == 25)
        #expect(run.error.contains("cannot run no-such-command-mapsrace: not found on PATH"))
        #expect(!FileManager.default.fileExists(atPath: workspace.file("no-such-command-mapsrace.mrtrace")))
    }

    @Test func commandNotExecutable() throws {
        let workspace = try Workspace()
        try "echo hi\n".write(toFile: workspace.file("script"), atomically: true, encoding: .utf8)
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", "./script")
        #expect(run.status == 25)
        #expect(run.error.contains("not executable"))
        #expect(!FileManager.default.fileExists(atPath: workspace.file("t.mrtrace")))
    }

    @Test func ptraceNotPermitted() throws {
        let workspace = try Workspace()
        let deny = try workspace.compile("deny")
        let run = try Workspace.run(
            deny, ["ptrace", try mapsraceBinary(), "record", "-o", "t.mrtrace", "--", "/bin/true"], in: workspace.path)
        #expect(run.status == 26)
        #expect(run.error.contains("ptrace is not permitted: PTRACE_SEIZE failed with Operation not permitted"))
        #expect(run.error.contains("ptrace_scope") || run.error.contains("no Yama"))
        #expect(!FileManager.default.fileExists(atPath: workspace.file("t.mrtrace")))
    }

    @Test func seccompUnavailable() throws {
        let workspace = try Workspace()
        let deny = try workspace.compile("deny")
        let run = try Workspace.run(
            deny, ["seccomp", try mapsraceBinary(), "record", "-o", "t.mrtrace", "--", "/bin/true"], in: workspace.path)
        #expect(run.status == 27)
        #expect(run.error.contains("seccomp filters are unavailable"))
        #expect(run.error.contains("prctl(PR_SET_SECCOMP): Invalid argument"))
        #expect(!FileManager.default.fileExists(atPath: workspace.file("t.mrtrace")))
    }

    @Test func programThatNeverReadsMaps() throws {
        let workspace = try Workspace()
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", "/bin/true")
        #expect(run.status == 28)
        #expect(run.error.contains("the program never opened a maps file: t.mrtrace holds 0 snapshots"))
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.trailer?.snapshots == 0)
        #expect(all.processes.first?.waitStatus == 0)
        // Its mutations (the loader's mmaps) are still all there.
        #expect(all.syscalls.contains { $0.name == "mmap" })
    }

    @Test func nonZeroExitAndSignalAreReportedNotErrors() throws {
        let workspace = try Workspace()
        let reader = try workspace.compile("raw-reader")
        // raw-reader of a pid that does not exist: exits 1 after a failed open.
        let failing = try workspace.mapsrace("record", "--json", "-o", "a.mrtrace", "--", "sh", "-c", "\(reader) >/dev/null; cat /proc/self/maps >/dev/null; exit 3")
        #expect(failing.status == 0, "\(failing.error)")
        let summary = try parseJSON(failing.output)
        #expect(summary["command_status"] as? String == "exited with status 3")
        #expect(summary["wait_status"] as? Int == 3 << 8)

        let killed = try workspace.mapsrace("record", "-o", "b.mrtrace", "--", "sh", "-c", "cat /proc/self/maps >/dev/null; kill -9 $$")
        #expect(killed.status == 0, "\(killed.error)")
        #expect(killed.output.contains("killed by signal 9"))
        let (all, _) = try records(of: workspace.file("b.mrtrace"))
        #expect(all.processes.first?.waitStatus == 9)
    }

    @Test func limitOnEventsStopsAndKeepsTheTrace() throws {
        let workspace = try Workspace()
        let demo = try workspace.compile("jit-demo")
        let run = try workspace.mapsrace("record", "--max-events", "200", "-o", "t.mrtrace", "--", demo, "2", "500")
        #expect(run.status == 29)
        #expect(run.error.contains("the log holds at most 200 events"))
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.trailer?.interrupted == true)
        #expect(all.syscalls.count <= 200 && all.syscalls.count > 100)
        // Nothing left running.
        for process in all.processes { #expect(!isRunning(process.pid)) }
    }

    @Test func interruptKillsTheTraceesAndWritesTheTrace() throws {
        let workspace = try Workspace()
        let binary = try mapsraceBinary()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["record", "-o", "t.mrtrace", "--", "sh", "-c", "cat /proc/self/maps >/dev/null; sleep 30"]
        process.currentDirectoryURL = URL(fileURLWithPath: workspace.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let started = Date()
        try process.run()
        // Wait until mapsrace traces the command (it creates the partial trace
        // right before), then give the command time to read its maps.
        let partial = workspace.file("t.mrtrace.partial-\(process.processIdentifier)")
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: partial) { usleep(50_000) }
        #expect(FileManager.default.fileExists(atPath: partial))
        usleep(500_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        #expect(Date().timeIntervalSince(started) < 10)
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        #expect(all.trailer?.interrupted == true)
        #expect(all.trailer?.signal == SIGINT)
        #expect(all.processes.count >= 2)
        // The shell and sleep were killed; nothing is left running (a killed
        // process whose parent died may stay a zombie until init reaps it).
        #expect(all.processes.filter { $0.waitStatus & 0x7f == SIGKILL }.count >= 2)
        for traced in all.processes { #expect(!isRunning(traced.pid), "pid \(traced.pid) still running") }
    }
}

/// Whether `pid` exists and is not a zombie.
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}
