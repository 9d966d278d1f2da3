// shmat/shmdt and prctl(PR_SET_VMA_ANON_NAME) under `record -- CMD`: the
// tracer logs what the maps lines will show (records 0x48, 0x49) and the
// whole-address-space model replays them exactly.

import Foundation
import MapsTrace
import Testing

@Suite struct SharedMemoryNamesTests {
    @Test func attachesAndNamesAreLoggedAndTheAddressSpaceValidatesExactly() throws {
        let workspace = try Workspace()
        let program = try workspace.compile("shm-names")
        let run = try workspace.mapsrace(["record", "-o", "t.mrtrace", "--", program])
        try #require(run.status == 0, "\(run.error)")
        // What the program saw: its shmids and each prctl's result (0 or errno).
        let printed = run.output.split(separator: "\n")
        let ids = try #require(printed.first { $0.hasPrefix("shmid ") }).split(separator: " ").dropFirst().compactMap { UInt64($0) }
        let results = try #require(printed.first { $0.hasPrefix("prctl ") }).split(separator: " ").dropFirst().compactMap { Int32($0) }
        try #require(ids.count == 2 && results.count == 5)

        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let attaches = all.compactMap { record -> SharedMemoryAttach? in
            if case .traced(.sharedMemoryAttach(let a)) = record { a } else { nil }
        }
        let names = all.compactMap { record -> AnonymousName? in
            if case .traced(.anonymousName(let n)) = record { n } else { nil }
        }
        // Three attaches: the segment read-write and SHM_RDONLY, the second SHM_EXEC.
        #expect(attaches.map(\.size) == [3 * page + 100, 3 * page + 100, 2 * page])
        #expect(attaches.map(\.flags) == [0, 0o10000, 0o100000])
        #expect(attaches.map(\.inode) == [ids[0], ids[0], ids[1]])
        #expect(attaches.allSatisfy { $0.path == "/SYSV00000000 (deleted)" })
        let calls = all.syscalls
        let texts = all.snapshotTexts.values.map { String(decoding: $0, as: UTF8.self) }
        for attach in attaches {
            // Each follows its shmat, and its line in a snapshot shows exactly that.
            let call = try #require(calls.first { $0.sequence == attach.syscall })
            #expect(call.name == "shmat" && call.errno == 0)
            let start = String(UInt64(bitPattern: call.result), radix: 16)
            let device = String(format: "%02x:%02x", attach.deviceMajor, attach.deviceMinor)
            let line = texts.lazy.flatMap { $0.split(separator: "\n") }.first { $0.hasPrefix(start + "-") }
            let fields = try #require(line).split(separator: " ", omittingEmptySubsequences: true)
            #expect(fields[3] == device && fields[4] == "\(attach.inode)", "\(line ?? "")")
            #expect(fields[5...].joined(separator: " ") == attach.path)
        }
        // Five names, in order, the cleared one NULL, each after its prctl.
        #expect(names.map(\.name) == ["alpha", "beta", nil, "gamma", "delta"])
        for name in names {
            let call = try #require(calls.first { $0.sequence == name.syscall })
            #expect(call.name == "prctl" && call.argument(0) == 0x5356_4d41)
        }
        #expect(calls.filter { $0.name == "shmdt" && $0.errno == 0 }.count == 3)
        // Where the kernel names anonymous memory, the snapshots show it; a
        // kernel without CONFIG_ANON_VMA_NAME fails every call with EINVAL.
        if results[0] == 0 {
            #expect(texts.contains { $0.contains("[anon:alpha]") && $0.contains("[anon:beta]") })
        } else {
            #expect(results.allSatisfy { $0 == 22 })
            #expect(!texts.contains { $0.contains("[anon:") })
        }

        // info counts both kinds of record.
        let info = try workspace.mapsrace("info", "--json", "t.mrtrace")
        try #require(info.status == 0, "\(info.error)")
        let counts = try parseJSON(info.output)
        #expect(counts["shared_memory_attaches"] as? Int == attaches.count)
        #expect(counts["anonymous_names"] as? Int == names.count)
        let infoText = try workspace.mapsrace("info", "t.mrtrace")
        #expect(infoText.output.contains("\(attaches.count) SysV shm attaches, \(names.count) anonymous-name prctls"))

        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let json = try parseJSON(analysis.output)
        let spaces = try #require(json["address_spaces"] as? [[String: Any]])
        let space = try #require(spaces.first { $0["generation"] as? Int == 1 })
        #expect(space["validated"] as? Bool == true, "\(space)")
        #expect(space["match"] as? String == "exact")
        #expect(space["unmodeled_mutations"] as? Int == 0)
        #expect(space["final_mismatches"] as? Int == 0)
        // Every snapshot (the program reading itself between its changes,
        // shm lines and all) holds exactly against the model.
        let snapshots = try #require(json["snapshots"] as? [[String: Any]])
        #expect(snapshots.count == 9)
        for snapshot in snapshots {
            let whole = try #require(snapshot["whole_space"] as? [String: Any])
            #expect(whole["judged"] as? Bool == true && whole["consistent"] as? Bool == true, "\(whole)")
            #expect(whole["match"] as? String == "exact")
        }
        // Eight snapshots show the attaches, the last (after the shmdts) none.
        let ordered = all.snapshotTexts.sorted { $0.key < $1.key }.map { String(decoding: $0.value, as: UTF8.self) }
        #expect(ordered.map { $0.contains("/SYSV") } == [true, true, true, true, true, true, true, true, false])
        // The read-write attach: one line, two after the munmap, three
        // after the page above the hole was protected and unprotected.
        let rwStart = UInt64(bitPattern: try #require(calls.first { $0.name == "shmat" }).result)
        let rwLines = ordered.map { text in
            text.split(separator: "\n").filter { line in
                UInt64(line.prefix { $0 != "-" }, radix: 16).map { $0 >= rwStart && $0 < rwStart + 4 * page } ?? false
            }.map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] }
        }
        #expect(rwLines[0] == ["rw-s"] && rwLines[5] == ["rw-s", "rw-s"], "\(rwLines)")
        #expect(rwLines[6] == ["rw-s", "r--s", "rw-s"] && rwLines[7] == ["rw-s", "rw-s", "rw-s"], "\(rwLines)")

        // Without the new records (an older tracer's trace) the same calls
        // are unmodeled and the address space is judged page by page.
        let stripped = workspace.file("stripped.mrtrace")
        let writer = try TraceWriter(path: stripped)
        for record in all {
            if case .traced(.sharedMemoryAttach) = record { continue }
            if case .traced(.anonymousName) = record { continue }
            try writer.append(record)
        }
        try writer.finish()
        let old = try workspace.mapsrace("analyze", "--json", "stripped.mrtrace")
        try #require(old.status == 0, "\(old.error)")
        let oldSpace = try #require((try parseJSON(old.output)["address_spaces"] as? [[String: Any]])?.first { $0["generation"] as? Int == 1 })
        #expect(oldSpace["validated"] as? Bool == false)
        // The three shmats, and the name prctls that changed lines (none where names fail with EINVAL).
        #expect(oldSpace["unmodeled_mutations"] as? Int == 3 + results.filter { $0 == 0 || $0 == 12 || $0 == 9 }.count)
        #expect((oldSpace["unmodeled_mutation_examples"] as? [String])?.first == "shmat without its segment record")
    }
}
