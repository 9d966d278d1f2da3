// `mapsrace check` run as a user runs it: verdicts and their exit statuses,
// every error with its own status and message, standard input, endless
// inputs that must stop, the JSON keys against docs/check-json.md, and the
// README's example reproduced.

import Foundation
import MapsAnalysis
import MapsCheck
import MapsTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private let clean = "00400000-00401000 r--p 00000000 08:02 11 /usr/bin/x\n00401000-00402000 rw-p 00000000 00:00 0 \n"
private let torn = "7f3a213fd000-7f3a213fe000 r--p 00000000 00:00 0 \n7f3a213fe000-7f3a213ff000 ---p 00000000 00:00 0 \n7f3a213fe000-7f3a21401000 ---p 00000000 00:00 0 \n"
private let suspicious = "00401000-00402000 rw-p 00000000 00:00 0 \n00402000-00403000 rw-p 00000000 00:00 0 \n"

/// A directory with the three texts above in it, removed afterwards.
private final class CheckScratch {
    let path: String

    init() throws {
        path = try makeTemporaryDirectory()
        try write(clean, to: "clean.txt")
        try write(torn, to: "torn.txt")
        try write(suspicious, to: "suspicious.txt")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ text: String, to name: String) throws { try write(Array(text.utf8), to: name) }
    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    func check(_ arguments: String...) throws -> MapsraceRun { try runMapsrace(["check"] + arguments, in: path) }

    /// Runs a shell command line in this directory with $MAPSRACE set to
    /// the built binary (for pipes into `check -`).
    func shell(_ script: String) throws -> MapsraceRun {
        let binary = try #require(MapsraceBinary.path)
        let stdoutPath = path + "/shell-stdout"
        let stderrPath = path + "/shell-stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Default signal handling in the child, so that `yes` dies of SIGPIPE.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let words: [String] = ["/bin/sh", "-c", "cd '\(path)' && \(script)"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let variables: [String] = ["MAPSRACE=\(binary)", "PATH=/usr/bin:/bin"]
        let environment: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environment) == 0)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return MapsraceRun(
            exitCode: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            standardOutput: readText(stdoutPath), standardError: readText(stderrPath))
    }
}

@Suite struct CheckCommand {
    @Test func verdictsAndTheirExitStatuses() throws {
        let scratch = try CheckScratch()
        let noEvidence = try scratch.check("clean.txt")
        #expect(noEvidence.exitCode == 0)
        #expect(noEvidence.standardOutput == "clean.txt: no evidence (0 impossible, 0 suspicious; 2 lines, \(clean.utf8.count) bytes)\n")
        #expect(noEvidence.standardError.isEmpty)

        let proved = try scratch.check("torn.txt")
        #expect(proved.exitCode == 2)
        #expect(proved.standardOutput.hasPrefix("torn.txt: torn (1 impossible, 0 suspicious; 3 lines"))
        #expect(proved.standardOutput.contains("  overlap (merge_between_reads) at line 3: line 3 starts where line 2 starts and extends it"))
        #expect(proved.standardOutput.contains("    2  7f3a213fe000-7f3a213ff000 ---p 00000000 00:00 0 \n    3  7f3a213fe000-7f3a21401000 ---p"))

        let merely = try scratch.check("suspicious.txt", "clean.txt")
        #expect(merely.exitCode == 3)
        #expect(merely.standardOutput.contains("suspicious: unmerged_anonymous at line 2"))

        // The worst verdict wins.
        #expect(try scratch.check("clean.txt", "suspicious.txt", "torn.txt").exitCode == 2)
    }

    @Test func everyErrorHasItsStatusAndEveryFileIsStillRead() throws {
        let scratch = try CheckScratch()
        let missing = try scratch.check("torn.txt", "missing.txt", "clean.txt")
        #expect(missing.exitCode == 40)
        #expect(missing.standardError == "mapsrace: error: missing.txt: No such file or directory (errno 2).\n")
        #expect(missing.standardOutput.contains("torn.txt: torn"))
        #expect(missing.standardOutput.contains("clean.txt: no evidence"))

        try scratch.write([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01], to: "binary")
        let binary = try scratch.check("binary")
        #expect(binary.exitCode == 41)
        #expect(binary.standardError == "mapsrace: error: binary: binary data, not a maps text: byte 0x7f at offset 0 (line 1).\n")
        #expect(binary.standardOutput.isEmpty)

        let wrongFormat = try scratch.check("clean.txt", "--format", "freebsd")
        #expect(wrongFormat.exitCode == 41)
        #expect(wrongFormat.standardError.hasPrefix("mapsrace: error: clean.txt: not a FreeBSD procstat vm text: line 1, column"))

        try scratch.write(String(repeating: "0", count: 20000) + "\n", to: "huge.txt")
        let huge = try scratch.check("huge.txt")
        #expect(huge.exitCode == 42)
        #expect(huge.standardError == "mapsrace: error: huge.txt: line 1 is longer than 16384 bytes: not a maps text (no maps line comes near that).\n")

        let notDump = try scratch.check("clean.txt", "--format", "minidump")
        #expect(notDump.exitCode == 43)
        #expect(notDump.standardError.contains("clean.txt: not a usable minidump: the signature is 0x"))

        // The first failure decides the status.
        #expect(try scratch.check("huge.txt", "binary").exitCode == 42)
        #expect(try scratch.check("--format", "minidump").exitCode == 64)
    }

    @Test func standardInput() throws {
        let scratch = try CheckScratch()
        let piped = try scratch.shell("cat torn.txt | \"$MAPSRACE\" check -")
        #expect(piped.exitCode == 2)
        #expect(piped.standardOutput.hasPrefix("-: torn (1 impossible"))
        let smaps = try scratch.shell("printf '00400000-00401000 r--p 00000000 00:00 0\\nSize: 4 kB\\n00400000-00402000 r--p 00000000 00:00 0\\n' | \"$MAPSRACE\" check - --format smaps")
        #expect(smaps.exitCode == 2)
        #expect(smaps.standardOutput.contains("at line 3: line 3 starts where line 1 starts"))
    }

    /// Endless inputs stop with their error (each run is bounded by the
    /// test's own time; a hang would hang the test).
    @Test func endlessInputsStop() throws {
        let scratch = try CheckScratch()
        let zero = try scratch.check("/dev/zero")
        #expect(zero.exitCode == 41)
        #expect(zero.standardError == "mapsrace: error: /dev/zero: binary data, not a maps text: byte 0x00 at offset 0 (line 1).\n")

        let endlessLine = try scratch.shell("tr '\\000' 7 < /dev/zero | \"$MAPSRACE\" check -")
        #expect(endlessLine.exitCode == 42)
        #expect(endlessLine.standardError.contains("-: line 1 is longer than 16384 bytes"))

        let endlessText = try scratch.shell("yes '00400000-00401000 r--p 00000000 00:00 0 ' | \"$MAPSRACE\" check - --max-bytes 2000000")
        #expect(endlessText.exitCode == 42)
        #expect(endlessText.standardError == "mapsrace: error: -: more than 2000000 bytes of text: stopped (raise --max-bytes if the input really is that large).\n")
    }

    @Test func jsonKeysAreTheDocumentedOnes() throws {
        let scratch = try CheckScratch()
        let run = try scratch.check("torn.txt", "missing.txt", "--json")
        #expect(run.exitCode == 40)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [[String: Any]])
        #expect(array.count == 2)
        let doc = try String(contentsOf: repository.appendingPathComponent("docs/check-json.md"), encoding: .utf8)
        let tables = documentedKeyTables(doc)
        try #require(tables.count == 2)
        #expect(Set(array[0].keys) == Set(tables[0]))
        #expect(Set(array[1].keys) == Set(tables[0]))
        #expect(array[0]["verdict"] as? String == "torn")
        #expect(array[1]["verdict"] is NSNull)
        #expect(array[1]["error"] as? String == "No such file or directory (errno 2).")
        let findings = try #require(array[0]["findings"] as? [[String: Any]])
        #expect(findings.count == 1)
        #expect(Set(findings[0].keys) == Set(tables[1]))
        #expect(findings[0]["shape"] as? String == "merge_between_reads")
        let lines = try #require(findings[0]["lines"] as? [[String: Any]])
        #expect(lines.map { $0["number"] as? Int } == [2, 3])
    }

    /// The README's example, run again on the committed trace.
    @Test func theReadmeExampleIsWhatCheckPrints() throws {
        let scratch = try CheckScratch()
        let trace = repository.appendingPathComponent("traces/rolling-pmap-4000p-seed1.mrtrace").path
        let extracted = try runMapsrace(["extract", trace, "-o", "pmap", "--snapshot", "3"], in: scratch.path)
        try #require(extracted.exitCode == 0)
        let run = try runMapsrace(["check", "pmap/saved-maps-03.txt", "pmap/saved-maps.txt"], in: scratch.path)
        #expect(run.exitCode == 2)
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        // The example sits in a list item: its lines are indented by two spaces.
        let marker = "  $ mapsrace check pmap/saved-maps-03.txt pmap/saved-maps.txt\n"
        let start = try #require(readme.range(of: marker))
        let rest = readme[start.upperBound...]
        let end = try #require(rest.range(of: "  ```"))
        let shown = rest[..<end.lowerBound].split(separator: "\n").map { $0.dropFirst(2) + "\n" }.joined()
        #expect(shown == run.standardOutput + "$ echo $?\n2\n")
    }
}

/// The backticked first column of each key table in a doc (a table whose
/// header is `| key | type | meaning |`).
private func documentedKeyTables(_ doc: String) -> [[String]] {
    var tables: [[String]] = []
    var inTable = false
    for line in doc.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("| key | type | meaning |") {
            tables.append([])
            inTable = true
        } else if inTable && line.hasPrefix("| `") {
            let cell = line.dropFirst(3).prefix { $0 != "`" }
            tables[tables.count - 1].append(String(cell))
        } else if inTable && !line.hasPrefix("| ---") {
            inTable = false
        }
    }
    return tables
}
