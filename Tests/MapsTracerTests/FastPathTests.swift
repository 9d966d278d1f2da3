// The fast path (docs/recording.md): mutations made through the preload
// library's trampoline are logged from its ring, everything else at stops,
// and either way each mutation is in the trace once, with the right process
// and thread. tools/test-programs/fast-path.c prints what it made.

import Foundation
import MapsTrace
import Testing

@Suite struct FastPathTests {
    let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    /// The preload library the tests' mapsrace puts into LD_PRELOAD.
    func preloadLibrary() throws -> String {
        let binary = try mapsraceBinary()
        let library = URL(fileURLWithPath: binary).deletingLastPathComponent().path + "/libmapsrace-preload.so"
        try #require(FileManager.default.fileExists(atPath: library), "the build made no \(library)")
        return library
    }

    /// "<pid> mprotect <n> raw <r>" lines: pid -> (n, r).
    func made(_ output: String) -> [Int32: (calls: Int, raw: Int)] {
        var result: [Int32: (Int, Int)] = [:]
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count >= 5, words[1] == "mprotect", let pid = Int32(words[0]), let n = Int(words[2]), let r = Int(words[4]) {
                result[pid] = (n, r)
            }
        }
        return result
    }

    /// The program's own mprotect calls (3 pages) of process `pid`.
    func ownProtects(_ syscalls: [TracedSyscall], pid: Int32) -> [TracedSyscall] {
        syscalls.filter { $0.pid == pid && $0.name == "mprotect" && $0.argument(1) == 3 * page && $0.errno == 0 }
    }

    @Test func concurrentThreadsAreLoggedOnceEachFromTheRing() throws {
        let workspace = try Workspace()
        _ = try preloadLibrary()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "threads", "4", "300")
        try #require(run.status == 0, "\(run.error)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let tids = run.output.split(separator: "\n").compactMap { line -> Int32? in
            let words = line.split(separator: " ")
            return words.count == 3 && words[1] == "thread" ? Int32(words[0]) : nil
        }
        #expect(tids.count == 4)
        #expect(Set(all.forks.filter { $0.kind == .thread }.map(\.childTID)) == Set(tids))
        for tid in tids {
            let calls = all.syscalls.filter { $0.tid == tid && $0.errno == 0 }
            let mine = calls.filter {
                ($0.name == "mprotect" && $0.argument(1) == 3 * page) || ($0.name != "mprotect" && $0.argument(1) == 5 * page)
            }
            #expect(mine.filter { $0.name == "mmap" }.count == 300)
            #expect(mine.filter { $0.name == "mprotect" }.count == 300)
            #expect(mine.filter { $0.name == "munmap" }.count == 300)
            #expect(mine.allSatisfy { $0.fastPath }, "thread \(tid): \(mine.filter { !$0.fastPath }.count) calls stopped")
            #expect(mine.allSatisfy { $0.tBegin <= $0.tEnd })
        }
        // Sequences stay dense and in return order.
        #expect(all.syscalls.map(\.sequence) == Array(0..<UInt64(all.syscalls.count)))
        #expect(zip(all.syscalls, all.syscalls.dropFirst()).allSatisfy { !$0.fastPath || !$1.fastPath || $0.tEnd <= $1.tEnd })
        // The program read its own maps: the library is there, the Swift runtime is not.
        let text = String(decoding: try #require(all.snapshotTexts[0]), as: UTF8.self)
        #expect(text.contains("libmapsrace-preload.so"))
        #expect(!text.contains("libswiftCore"))
        // The replay validates with the ring's records merged in.
        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
    }

    @Test func forkedChildAndParentKeepTheirOwnMutations() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "fork", "200")
        try #require(run.status == 0, "\(run.error)")
        let counts = made(run.output)
        try #require(counts.count == 2, "\(run.output)")
        let all = try records(of: workspace.file("t.mrtrace")).records
        let fork = try #require(all.forks.first { $0.kind == .fork })
        #expect(counts[fork.parentPID]?.calls == 400)
        #expect(counts[fork.childTID]?.calls == 600)
        let parent = ownProtects(all.syscalls, pid: fork.parentPID)
        let child = ownProtects(all.syscalls, pid: fork.childTID)
        #expect(parent.count == 400)  // none lost, none twice (the child's copy of the ring is skipped)
        #expect(child.count == 600)
        #expect(parent.allSatisfy { $0.fastPath && $0.tid == fork.parentPID })
        #expect(child.allSatisfy { $0.fastPath && $0.tid == fork.childTID })
        // The child's calls all come after the fork in the trace's order.
        let forkTime = fork.t
        #expect(child.allSatisfy { $0.tBegin >= forkTime })
    }

    @Test func rawSyscallsStopAndLibcCallsTakeTheRing() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "raw", "150")
        try #require(run.status == 0, "\(run.error)")
        let pid = try #require(made(run.output).keys.first)
        let mine = ownProtects(try records(of: workspace.file("t.mrtrace")).records.syscalls, pid: pid)
        #expect(mine.count == 300)
        #expect(mine.filter { !$0.fastPath }.count == 150)  // syscall(SYS_mprotect): not from the trampoline
        #expect(mine.filter { $0.fastPath }.count == 150)
        // The raw ones came first: the trace keeps the program's order.
        #expect(mine.prefix(150).allSatisfy { !$0.fastPath })
    }

    @Test func staticBinaryStopsAtEveryMutationAsWithoutTheFastPath() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path", flags: ["-static"])
        var perRole: [[String: Int]] = []
        for options in [[], ["--no-fast-path"]] {
            let run = try workspace.mapsrace(["record", "-o", "t.mrtrace"] + options + ["--", program, "fork", "100"])
            try #require(run.status == 0, "\(run.error)")
            let all = try records(of: workspace.file("t.mrtrace")).records
            let fork = try #require(all.forks.first { $0.kind == .fork })
            #expect(all.syscalls.allSatisfy { !$0.fastPath })
            #expect(ownProtects(all.syscalls, pid: fork.parentPID).count == 200)
            #expect(ownProtects(all.syscalls, pid: fork.childTID).count == 300)
            for pid in [fork.parentPID, fork.childTID] {
                var names: [String: Int] = [:]
                for call in all.syscalls where call.pid == pid { names[call.name, default: 0] += 1 }
                perRole.append(names)
            }
        }
        // The same calls by name, process by process, with and without the fast path.
        #expect(perRole[0] == perRole[2] && perRole[1] == perRole[3], "\(perRole)")
    }

    @Test func execWithoutThePreloadFallsBackToStops() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "exec", "120")
        try #require(run.status == 0, "\(run.error)")
        #expect(run.output.contains("after-exec\n"), "LD_PRELOAD was cleared: \(run.output)")
        let all = try records(of: workspace.file("t.mrtrace")).records
        let pid = try #require(all.processes.first?.pid)
        let mine = ownProtects(all.syscalls, pid: pid)
        #expect(all.execs.count == 2)
        let before = mine.filter { $0.generation == 1 }
        let after = mine.filter { $0.generation == 2 }
        #expect(before.count == 120 && before.allSatisfy { $0.fastPath })
        #expect(after.count == 120 && after.allSatisfy { !$0.fastPath })
    }

    @Test func vforkChildWritesIntoItsParentsRingUnderItsOwnPid() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "vfork", "100")
        try #require(run.status == 0, "\(run.error)")
        let counts = made(run.output)
        let all = try records(of: workspace.file("t.mrtrace")).records
        let vfork = try #require(all.forks.first { $0.kind == .vfork })
        #expect(counts[vfork.parentPID]?.calls == 200)
        #expect(counts[vfork.childTID]?.calls == 300)
        let parent = ownProtects(all.syscalls, pid: vfork.parentPID)
        let child = ownProtects(all.syscalls, pid: vfork.childTID)
        #expect(parent.count == 200)
        #expect(child.count == 300)
        #expect(child.allSatisfy { $0.fastPath && $0.tid == vfork.childTID })
        #expect(parent.allSatisfy { $0.fastPath })
    }

    @Test func execKeepingThePreloadKeepsTheFastPath() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "exec-keep", "120")
        try #require(run.status == 0, "\(run.error)")
        #expect(run.output.contains("after-exec preload\n"), "\(run.output)")
        let all = try records(of: workspace.file("t.mrtrace")).records
        let pid = try #require(all.processes.first?.pid)
        let mine = ownProtects(all.syscalls, pid: pid)
        #expect(mine.filter { $0.generation == 1 && $0.fastPath }.count == 120)
        #expect(mine.filter { $0.generation == 2 && $0.fastPath }.count == 120)
        #expect(mine.count == 240)
    }

    @Test func fullRingFallsBackToStopsAndLosesNothing() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace(
            "record", "--fast-path-ring", "4", "-o", "t.mrtrace", "--", program, "after", "3000")
        try #require(run.status == 0, "\(run.error)")
        let pid = try #require(made(run.output).keys.first)
        let mine = ownProtects(try records(of: workspace.file("t.mrtrace")).records.syscalls, pid: pid)
        #expect(mine.count == 3000)
        #expect(mine.contains { $0.fastPath })
        #expect(mine.contains { !$0.fastPath })
        // Alternating protections, in the program's order, whichever path each took.
        #expect(mine.enumerated().allSatisfy { i, call in call.argument(2) == (i % 2 == 1 ? 3 : 1) })
        let refused = try workspace.mapsrace("record", "--fast-path-ring", "3", "--", program, "after", "1")
        // A ring size that is not a power of two is a usage error, said as such.
        #expect(refused.status == 64, "\(refused.error)")
        #expect(refused.error.contains("--fast-path-ring must be a power of two"), "\(refused.error)")
    }

    /// The preload's trampoline page and ring are mapped (and the
    /// trampoline mprotected) by the traced path, but they are mapsrace's,
    /// not the program's: never the modeled range. A shell that reads its
    /// own maps through a child has no mprotect of its own in an anonymous
    /// mapping, so before, the trampoline page (one mprotect) was chosen.
    @Test func theFastPathsOwnMappingsAreNeverTheModeledRange() throws {
        let workspace = try Workspace()
        _ = try preloadLibrary()
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", "/bin/sh", "-c", "cat /proc/$$/maps >/dev/null")
        try #require(run.status == 0, "\(run.error)")
        let all = try records(of: workspace.file("t.mrtrace")).records
        let arena = try #require(all.compactMap { record -> ArenaRecord? in if case .arena(let a) = record { a } else { nil } }.first)
        // The preload did map its pages at their fixed addresses in the shell.
        let trampoline: UInt64 = 0x6d5a_0000_0000, ring: UInt64 = 0x6d5a_0001_0000
        let shell = try #require(all.processes.first?.pid)
        #expect(all.syscalls.contains { $0.pid == shell && $0.name == "mmap" && UInt64(bitPattern: $0.result) == trampoline })
        #expect(all.syscalls.contains { $0.pid == shell && $0.name == "mmap" && UInt64(bitPattern: $0.result) == ring })
        #expect(arena.start != trampoline && arena.start != ring, "modeled range \(arena)")
    }

    /// A program that unmaps the trampoline and the ring (here with libc's
    /// munmap over both) ends its fast path there: its later calls stop,
    /// and the records the ring held are taken before it goes. Before, the
    /// next call wrote into the unmapped ring and the program died of SIGSEGV.
    @Test func unmappingTheRingEndsTheFastPathAndLosesNothing() throws {
        let workspace = try Workspace()
        _ = try preloadLibrary()
        let program = try workspace.compile("fast-path")
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "unmap-ring", "200")
        try #require(run.status == 0, "\(run.error)")
        let pid = try #require(made(run.output).keys.first)
        #expect(made(run.output)[pid]?.calls == 400)
        let syscalls = try records(of: workspace.file("t.mrtrace")).records.syscalls
        let mine = ownProtects(syscalls, pid: pid)
        #expect(mine.count == 400)
        #expect(mine.prefix(200).allSatisfy { $0.fastPath })
        #expect(mine.suffix(200).allSatisfy { !$0.fastPath })
        let unmap = try #require(syscalls.first { $0.pid == pid && $0.name == "munmap" && $0.argument(0) == 0x6d5a_0000_0000 })
        #expect(!unmap.fastPath && unmap.errno == 0)
        #expect(mine.prefix(200).allSatisfy { $0.sequence < unmap.sequence })
        #expect(mine.suffix(200).allSatisfy { $0.sequence > unmap.sequence })
    }

    /// What mapsrace logs equals what strace -f sees of the same program
    /// (run with the same preload, so that both see the same calls).
    @Test func mutationsEqualWhatStraceShows() throws {
        let workspace = try Workspace()
        let library = try preloadLibrary()
        let program = try workspace.compile("fast-path")
        let names = ["mmap", "munmap", "mprotect", "madvise", "mremap", "brk"]
        let run = try workspace.mapsrace("record", "-o", "t.mrtrace", "--", program, "fork", "150")
        try #require(run.status == 0, "\(run.error)")
        let all = try records(of: workspace.file("t.mrtrace")).records
        let fork = try #require(all.forks.first { $0.kind == .fork })
        func role(_ pid: Int32, parent: Int32) -> String { pid == parent ? "parent" : "child" }
        var traced: [String: Int] = [:]
        for call in all.syscalls where names.contains(call.name) {
            traced[role(call.pid, parent: fork.parentPID) + " " + call.name, default: 0] += 1
        }
        let strace = try Workspace.run(
            "/usr/bin/env",
            ["strace", "-f", "-qq", "-o", workspace.file("strace.txt"), "-e", "trace=" + names.joined(separator: ","),
             "-e", "signal=none", program, "fork", "150"],
            in: workspace.path, environment: ["LD_PRELOAD": library, "MAPSRACE_FAST_PATH_RING": "65536"])
        try #require(strace.status == 0, "\(strace.error)")
        let lines = try String(contentsOfFile: workspace.file("strace.txt"), encoding: .utf8).split(separator: "\n")
        let firstPID = lines.first.flatMap { Int32($0.split(separator: " ").first ?? "") } ?? 0
        var straced: [String: Int] = [:]
        for line in lines {
            let words = line.split(separator: " ", maxSplits: 1)
            guard words.count == 2, let pid = Int32(words[0]) else { continue }
            let call = words[1].trimmingCharacters(in: .whitespaces)
            guard let name = names.first(where: { call.hasPrefix($0 + "(") }) else { continue }
            straced[role(pid, parent: firstPID) + " " + name, default: 0] += 1
        }
        #expect(traced == straced)
        #expect(traced["child mprotect"] ?? 0 >= 450)
    }
}
