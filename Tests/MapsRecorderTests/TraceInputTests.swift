// Inputs that arrive through pipes, FIFOs and process substitution, endless
// or huge inputs, and traces a reader must refuse (issue 9, findings 2, 4, 5
// and 8), run as a user runs them: through a shell.

import Foundation
import MapsTestSupport
import Testing

private let committedTrace = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces/rolling-pmap-4000p-seed1.mrtrace").path

/// Runs `script` with bash in a fresh directory; `$M` is the mapsrace binary
/// and `$T` a committed trace. Every command that could block is under
/// `timeout`, so a hang fails the test (exit 124) instead of stalling it.
func runBash(_ script: String) throws -> MapsraceRun {
    let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", script]
    // The script works in a directory of its own; its output is captured beside it.
    let work = directory + "/work"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
    process.currentDirectoryURL = URL(fileURLWithPath: work)
    process.environment = ["M": binary, "T": committedTrace, "PATH": "/usr/bin:/bin"]
    let output = directory + "/out", errors = directory + "/err"
    _ = FileManager.default.createFile(atPath: output, contents: nil)
    _ = FileManager.default.createFile(atPath: errors, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
    try process.run()
    process.waitUntilExit()
    return MapsraceRun(exitCode: process.terminationStatus, standardOutput: readText(output), standardError: readText(errors))
}

@Suite(.serialized) struct TraceInputTests {
    /// What `analyze --json` prints for the trace read from its file, with
    /// the file's name replaced by `name`.
    private func expectedAnalysis(named name: String) throws -> String {
        let direct = try runBash(#"timeout -s KILL 120 "$M" analyze "$T" --json"#)
        try #require(direct.exitCode == 0, "\(direct.standardError)")
        return direct.standardOutput.replacingOccurrences(of: committedTrace, with: name)
    }

    @Test func analyzeReadsATraceFromAPipe() throws {
        let run = try runBash(#"cat "$T" | timeout -s KILL 120 "$M" analyze /dev/stdin --json"#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains(#""consistent_snapshots""#))
        #expect(run.standardOutput == (try expectedAnalysis(named: "/dev/stdin")))
    }

    @Test func analyzeReadsATraceFromANamedFIFO() throws {
        let run = try runBash(#"mkfifo fifo && { cat "$T" > fifo & } && timeout -s KILL 120 "$M" analyze fifo --json; code=$?; kill %1 2>/dev/null; exit $code"#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains(#""consistent_snapshots""#))
        #expect(run.standardOutput == (try expectedAnalysis(named: "fifo")))
    }

    @Test func diffReadsATraceFromProcessSubstitution() throws {
        let direct = try runBash(#"timeout -s KILL 120 "$M" diff "$T" --snapshot 1 --color never"#)
        try #require(direct.exitCode == 0)
        let run = try runBash(#"timeout -s KILL 120 "$M" diff <(cat "$T") --snapshot 1 --color never"#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == direct.standardOutput)
        #expect(run.standardOutput.contains("+++ observed snapshot 1"))
    }

    @Test func aTraceWhoseFramesHaveNoChecksumIsCorrupt() throws {
        // The same raw stream, framed by the zstd tool without content checksums.
        let run = try runBash(#"""
            zstd -dcq "$T" > raw && zstd -q --no-check raw -o bare.mrtrace || exit 99
            zstd -lv bare.mrtrace | grep -q 'Check: None' || exit 98
            for command in "analyze bare.mrtrace" "info bare.mrtrace" "extract bare.mrtrace -o out"; do
                timeout -s KILL 120 "$M" $command > /dev/null 2>> errors; echo "$command: $?"
            done
            cat errors >&2
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "analyze bare.mrtrace: 14\ninfo bare.mrtrace: 14\nextract bare.mrtrace -o out: 14\n")
        #expect(run.standardError.contains("no content checksum"))
    }

    @Test func onlyThePreambleIsNotATrace() throws {
        let run = try runBash(#"""
            printf 'MAPSRACE\001\000\000\000' > raw && zstd -q raw -o preamble-from-file.mrtrace || exit 99
            for trace in preamble-from-file.mrtrace; do
                for command in "info $trace" "info $trace --json" "extract $trace -o out" "analyze $trace"; do
                    timeout -s KILL 60 "$M" $command > /dev/null 2>> errors; echo "$command: $?"
                done
            done
            cat errors >&2
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == """
            info preamble-from-file.mrtrace: 11
            info preamble-from-file.mrtrace --json: 11
            extract preamble-from-file.mrtrace -o out: 11
            analyze preamble-from-file.mrtrace: 11

            """)
        #expect(run.standardError.contains("no header"))
    }

    /// Finding 2: `count-rw /dev/zero` grew to gigabytes, then aborted.
    @Test func countRWRefusesAnEndlessLineAtOnce() throws {
        // The address-space limit turns unbounded growth into a failure instead of a machine out of memory.
        let run = try runBash(#"(ulimit -v 1000000; timeout -s KILL 60 "$M" count-rw /dev/zero --range 0 1000)"#)
        #expect(run.exitCode == 30, "\(run.standardError)")
        #expect(run.standardError.contains("/dev/zero: line 1, column 1: the line is longer than 65536 bytes"))
    }

    /// Finding 2: a valid 98 MB maps text through a pipe, counted in under
    /// 200 MB of address space (the whole text and its parse took 3x the input).
    @Test func countRWStreamsAHugeInputInBoundedMemory() throws {
        let run = try runBash(#"""
            yes '7f0000000000-7f0000002000 rw-p 00000000 00:00 0 ' | head -n 2000000 \
                | (ulimit -v 200000; timeout -s KILL 120 "$M" count-rw - --range 0 7f0000010000)
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "4000000\n")
    }
}
