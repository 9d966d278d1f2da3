// Case 2 (`record --workload rolling -- READER {pid}`: the built-in workload
// read by an external program) and the reads the tracer logs compared with
// what strace shows for the same programs.

import Foundation
import MapsTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The external readers of the issue: cat, procps pmap, Python's
/// open().read(), and a C program reading with raw read(2) syscalls.
let externalReaderNames = ["cat", "pmap", "python3", "raw-reader"]

/// The readers compared with strace: those and gdb (`info proc mappings`,
/// pread64 at growing offsets). gdb's case 2 is RealReaderSurveyTests'.
let stracedReaderNames = externalReaderNames + ["gdb"]

/// The command line of reader `name` reading the maps of `pid`.
func externalReader(_ name: String, pid: String) -> [String] {
    switch name {
    case "cat": ["cat", "/proc/\(pid)/maps"]
    case "pmap": ["pmap", pid]
    case "python3": ["python3", "-c", "open('/proc/\(pid)/maps').read()"]
    case "gdb": ["gdb", "-batch", "-nx", "-p", pid, "-ex", "info proc mappings"]
    default: ["./raw-reader", pid, "1000"]
    }
}

@Suite struct ExternalReaderTests {
    @Test(arguments: externalReaderNames)
    func workloadReadByAnExternalProgram(_ name: String) throws {
        let workspace = try Workspace()
        try workspace.compile("raw-reader")
        let command = externalReader(name, pid: "{pid}")
        let run = try workspace.mapsrace(
            ["record", "--workload", "rolling", "--pages", "3000", "--snapshots", "2", "--seed", "1", "-o", "t.mrtrace", "--"]
                + command)
        try #require(run.status == 0, "\(run.error)")
        let (all, completion) = try records(of: workspace.file("t.mrtrace"))
        #expect(completion == .complete)
        let header = try #require(all.header)
        #expect(header.reader == "external")
        #expect(header.readerParameters[parameter: "command"] == command.joined(separator: " "))
        // Two snapshots, each a whole pass of the workload's maps from offset 0 to EOF.
        #expect(all.ends.count == 2)
        for end in all.ends { #expect(end.flags.contains(.reachedEOF)) }
        let texts = all.snapshotTexts
        for (_, text) in texts {
            #expect(String(decoding: text, as: UTF8.self).contains("[stack]"))
        }
        for chunk in all.chunks where chunk.sequence > 0 {
            let previous = all.chunks.first { $0.snapshot == chunk.snapshot && $0.sequence == chunk.sequence - 1 }!
            #expect(chunk.offset == previous.offset + UInt64(max(previous.returned, 0)))
        }
        // The workload's own log is the ground truth: analyze validates it.
        let analysis = try workspace.mapsrace("analyze", "--json", "t.mrtrace")
        try #require(analysis.status == 0, "\(analysis.error)")
        let json = try parseJSON(analysis.output)
        #expect(json["model_validated"] as? Bool == true)
        #expect(json["snapshot_count"] as? Int == 2)
    }

    /// Each reader, recorded reading a process that does not change (sleep),
    /// and the same reader under strace: the same reads of the maps
    /// descriptor, with the same sizes asked for, the same results, and
    /// offsets that follow them (gdb's pread64 offsets included).
    @Test(arguments: stracedReaderNames)
    func readsEqualWhatStraceShows(_ name: String) throws {
        let workspace = try Workspace()
        try workspace.compile("raw-reader")
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        // SIGKILL: the test runner's children may inherit a mask that blocks SIGTERM.
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let pid = "\(sleeper.processIdentifier)"
        let command = externalReader(name, pid: pid)

        // gdb: no debuginfod download at start-up, whatever the environment says.
        let environment = name == "gdb" ? ["DEBUGINFOD_URLS": ""] : [:]
        let run = try workspace.mapsrace(["record", "-o", "t.mrtrace", "--"] + command, environment: environment)
        try #require(run.status == 0, "\(run.error)")
        let (all, _) = try records(of: workspace.file("t.mrtrace"))
        // The snapshots of /proc/PID/maps (pmap also reads files of its own).
        let ofTarget = Set(all.sources.filter { $0.path == "/proc/\(pid)/maps" }.map(\.snapshot))
        #expect(all.sources.filter { ofTarget.contains($0.snapshot) }.allSatisfy { $0.targetPID == Int32(pid) })
        let tracedChunks = all.chunks.filter { ofTarget.contains($0.snapshot) }
        let traced = tracedChunks.map { [Int64($0.requested), $0.returned] }
        try #require(!traced.isEmpty)

        // gdb runs under strace without -f: under -f its start-up check's
        // child gets PTRACE_TRACEME = -1 EPERM and gdb waits for ever. Its
        // maps reads are on its main thread, which strace follows; mapsrace
        // follows every thread and child, so a read elsewhere would show.
        let follow = name == "gdb" ? [] : ["-f"]
        let strace = try Workspace.run(
            "/usr/bin/env",
            ["strace"] + follow + ["-qq", "-o", workspace.file("strace.txt"), "-e", "trace=open,openat,read,pread64,readv,close", "-e", "signal=none"]
                + command,
            in: workspace.path, environment: environment)
        try #require(strace.status == 0, "\(strace.error)")
        let lines = try String(contentsOfFile: workspace.file("strace.txt"), encoding: .utf8).split(separator: "\n")
        let straced = mapsReads(in: lines.map(String.init), path: "/proc/\(pid)/maps", pidColumn: follow == ["-f"])
        #expect(traced.map { [$0[0], $0[1]] } == straced.map { [$0[0], $0[1]] },
            "mapsrace: \(traced)\nstrace: \(straced)\nstrace.txt begins:\n\(lines.prefix(12).joined(separator: "\n"))")
        // pread64's offsets (gdb's growing ones): what strace shows is where each chunk says it read.
        let positional = straced.filter { $0[2] >= 0 }
        if name == "gdb" { #expect(!positional.isEmpty && positional.count == straced.count) }
        if positional.count == straced.count, straced.count == tracedChunks.count {
            #expect(tracedChunks.map { Int64($0.offset) } == straced.map { $0[2] })
        }
        if positional.isEmpty {
            // read(2) readers: each chunk starts where the one before it in
            // its snapshot ended (the descriptor's offset, as the kernel keeps it).
            #expect(name != "gdb")
            var next: [UInt32: UInt64] = [:]
            for chunk in tracedChunks.sorted(by: { ($0.snapshot, $0.sequence) < ($1.snapshot, $1.sequence) }) {
                #expect(chunk.offset == next[chunk.snapshot, default: 0], "snapshot \(chunk.snapshot) chunk \(chunk.sequence)")
                next[chunk.snapshot, default: 0] += UInt64(max(chunk.returned, 0))
            }
        }
    }

    /// [requested, returned, offset] of every read of `path`'s descriptor in
    /// strace output (offset -1 for read, the argument for pread64).
    func mapsReads(in lines: [String], path: String, pidColumn: Bool = true) -> [[Int64]] {
        var descriptors: Set<String> = []
        var reads: [[Int64]] = []
        for raw in lines {
            // "12345 openat(AT_FDCWD, "/proc/42/maps", O_RDONLY) = 3" (with -f)
            // strace left-justifies the pid in 5 columns: "1234  openat(" has two spaces.
            let line = pidColumn ? raw.drop { $0 != " " }.drop { $0 == " " } : Substring(raw)
            guard let equals = line.range(of: " = ", options: .backwards) else { continue }
            let result = line[equals.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            if (line.hasPrefix("openat(") || line.hasPrefix("open(")) && line.contains("\"\(path)\"") {
                descriptors.insert(result)
            } else if line.hasPrefix("read(") || line.hasPrefix("pread64(") {
                let arguments = line[line.index(after: line.firstIndex(of: "(")!)..<equals.lowerBound]
                let fd = String(arguments.prefix { $0 != "," })
                guard descriptors.contains(fd) else { continue }
                // The size is the last argument (read) or the one before the offset (pread64).
                let fields = arguments.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let sizeField = line.hasPrefix("pread64(") ? fields[fields.count - 2] : fields[fields.count - 1]
                let size = Int64(sizeField.trimmingCharacters(in: CharacterSet(charactersIn: ")"))) ?? -2
                let offset = line.hasPrefix("pread64(")
                    ? Int64(fields[fields.count - 1].trimmingCharacters(in: CharacterSet(charactersIn: ")"))) ?? -2 : -1
                reads.append([size, Int64(result) ?? -1, offset])
            } else if line.hasPrefix("close(") {
                let fd = String(line.dropFirst(6).prefix { $0 != ")" })
                descriptors.remove(fd)
            }
        }
        return reads
    }
}
