// `mapsrace check` run as a user runs it: verdicts and their exit statuses,
// every error with its own status and message, standard input, endless
// inputs that must stop, and the README's example reproduced. (The JSON
// keys against docs/check-json.md: MapsraceCommandTests.)

import Foundation
import MapsAnalysis
import MapsCheck
import MapsSystem
import MapsTestSupport
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
        let binary = try MapsraceBinary.required()
        let stdoutPath = path + "/shell-stdout"
        let stderrPath = path + "/shell-stderr"
        let spawn = PreparedSpawn(
            executable: "/usr/bin/env",
            arguments: ["-i", "-C", path, "MAPSRACE=\(binary)", "PATH=/usr/bin:/bin", "/bin/sh", "-c", script],
            fileActions: [
                .open(fd: 1, path: stdoutPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                .open(fd: 2, path: stderrPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            ],
            stopSignals: .defaultAndUnblocked)
        guard case .success(let pid) = spawn.spawn() else { throw TestSupportError("cannot start /bin/sh") }
        guard case .success(let status?) = waitForProcess(pid) else { throw TestSupportError("cannot wait for /bin/sh") }
        return MapsraceRun(exitCode: status.shellStatus, standardOutput: readText(stdoutPath), standardError: readText(stderrPath))
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
