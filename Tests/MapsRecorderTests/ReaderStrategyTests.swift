// The readers beyond the seed: procmap-query, retry-stable, smaps, frozen.
// Parsing and the ptrace freeze are checked in-process; the readers
// themselves through small real recordings made by the built binary and
// judged by MapsAnalysis.

import MapsAnalysis
import MapsModel
import MapsTrace
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

@Suite struct NewReaderStrategyParsing {
    @Test func namesParseAndRoundTrip() throws {
        #expect(try ReaderStrategy(parsing: "procmap-query") == .procmapQuery)
        #expect(try ReaderStrategy(parsing: "retry-stable") == .retryStable(maxAttempts: 10))
        #expect(try ReaderStrategy(parsing: "retry-stable:3") == .retryStable(maxAttempts: 3))
        #expect(try ReaderStrategy(parsing: "smaps") == .smaps)
        #expect(try ReaderStrategy(parsing: "frozen") == .frozen)
        for text in ["procmap-query", "retry-stable", "smaps", "frozen"] {
            #expect(try ReaderStrategy(parsing: text).description == text)
        }
        // The reader process gets the exact spelling, limits included.
        let limited = ReaderStrategy.retryStable(maxAttempts: 4)
        #expect(limited.description == "retry-stable")
        #expect(try ReaderStrategy(parsing: limited.exactSpelling) == limited)
        #expect(limited.traceParameters[parameter: "max_attempts"] == "4")
        #expect(ReaderStrategy.smaps.procfsFileName == "smaps")
        #expect(ReaderStrategy.frozen.procfsFileName == "maps")
        #expect(ReaderStrategy.procmapQuery.fileNameComponent == "procmap-query")
    }

    @Test(arguments: ["retry-stable:", "retry-stable:1", "retry-stable:1001", "retry-stable:+3", "procmap", "frozen:1"])
    func rejectsBadValues(_ text: String) {
        #expect(throws: RecordingError.self) { try ReaderStrategy(parsing: text) }
    }

    @Test func retryStableSizesItsTablesForEveryAttempt() {
        let configuration = ReaderProcessConfiguration(
            targetPID: 1, strategy: .retryStable(maxAttempts: 5), snapshotCount: 7, logFD: -1, readyFD: -1,
            byteCapacity: 2 << 20)
        #expect(configuration.snapshotCapacity == 35)
        #expect(configuration.effectiveByteCapacity == 10 << 20)
        #expect(configuration.arguments.contains("retry-stable:5"))
    }
}

/// A process spinning in a shell loop, killed and reaped at the end.
private struct SpinningChild {
    let pid: pid_t

    static func start() throws -> SpinningChild {
        let words: [String] = ["/bin/sh", "-c", "while :; do :; done"]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, argv, nil) == 0)
        return SpinningChild(pid: pid)
    }

    /// The state letter of /proc/PID/stat (R, S, t for a tracing stop, ...).
    var state: Character? {
        let text = readText("/proc/\(pid)/stat")
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(close, offsetBy: 2)...].first
    }

    /// CPU ticks (utime) the process has used.
    var userTicks: Int {
        let text = readText("/proc/\(pid)/stat")
        guard let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return Int(fields[11]) ?? -1
    }

    func end() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

@Suite(.serialized) struct TargetFreezing {
    @Test func stopsEveryThreadAndResumesIt() throws {
        let child = try SpinningChild.start()
        defer { child.end() }
        let freeze = try TargetFreeze(pid: child.pid)
        for _ in 0..<3 {
            #expect(freeze.stop() == 0)
            #expect(child.state == "t")
            // Stopped means no CPU time passes.
            let ticks = child.userTicks
            var pause = timespec(tv_sec: 0, tv_nsec: 30_000_000)
            nanosleep(&pause, nil)
            #expect(child.userTicks == ticks)
            freeze.resume()
            #expect(child.state != "t")
        }
        // After the last resume the target is no longer traced by us.
        let status = readText("/proc/\(child.pid)/status")
        #expect(status.contains("TracerPid:\t0\n"))
    }

    @Test func aProcessThatIsGoneCannotBeStopped() throws {
        let freeze = try TargetFreeze(pid: 0x3fff_fff0)
        #expect(freeze.stop() == ENOENT)
    }
}

// MARK: - Recordings

private let pageCount = 2000
private let snapshotCount = 25

private struct Recorded {
    var run: MapsraceRun
    var trace: LoadedTrace
    var report: AnalysisReport
}

/// Records with `reader` into a fresh directory, loads the trace and analyzes it.
private func record(reader: String, seed: UInt64, pages: Int = pageCount, snapshots: Int = snapshotCount) throws -> Recorded {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let run = try runMapsrace(
        ["record", "--pages", "\(pages)", "--snapshots", "\(snapshots)", "--seed", "\(seed)",
         "--reader", reader, "-o", "trace.mrtrace", "--json"],
        in: directory)
    try #require(run.exitCode == 0, "record --reader \(reader) failed: \(run.standardError)")
    let path = directory + "/trace.mrtrace"
    let trace = try LoadedTrace(path: path)
    let report = try TraceAnalysis(.file(path)).run()
    return Recorded(run: run, trace: trace, report: report)
}

/// Each snapshot's chunks, in file order.
private func snapshotChunks(_ trace: LoadedTrace) -> [[ReadChunk]] {
    var result: [[ReadChunk]] = []
    for record in trace.records {
        switch record {
        case .snapshotBegin: result.append([])
        case .readChunk(let chunk): result[result.count - 1].append(chunk)
        default: break
        }
    }
    return result
}

/// The lines of `text` as byte strings, newline excluded.
private func lineBytes(_ text: [UInt8]) -> [[UInt8]] {
    text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map(Array.init)
}

private func endsWith(_ line: [UInt8], _ suffix: String) -> Bool {
    line.count >= suffix.utf8.count && Array(line.suffix(suffix.utf8.count)) == Array(suffix.utf8)
}

/// Snapshots that began after the mutator's last mutation: nothing changed
/// while they were read, so they are the control for every reader.
private func quietSnapshots(_ report: AnalysisReport) throws -> [SnapshotAnalysis] {
    let quiet = report.snapshots.filter(\.afterMutatorFinished)
    try #require(!quiet.isEmpty, "no snapshot began after the mutator finished")
    return quiet
}

@Suite(.serialized) struct NewReaders {
    @Test func frozenSnapshotsAreAllConsistent() throws {
        var total = 0
        var duringTheLoop = 0
        for seed: UInt64 in [101, 102, 103, 104] {
            let recorded = try record(reader: "frozen", seed: seed)
            let report = recorded.report
            #expect(report.modelValidated)
            #expect(report.snapshotCount == snapshotCount)
            #expect(report.consistentSnapshots == report.snapshotCount, "seed \(seed)")
            #expect(report.totals.raceAnomalies == 0 && report.totals.unmodeled == 0, "seed \(seed)")
            #expect(recorded.trace.header?.readerParameters[parameter: "stop"] == "ptrace_seize_interrupt")
            total += report.snapshotCount
            duringTheLoop += report.snapshots.filter { !$0.afterMutatorFinished }.count
            // The mutator was resumed every time: it finished its whole loop.
            #expect(recorded.trace.mutations.count == RollingWorkload.mutationCount(pageCount: pageCount))
        }
        #expect(total >= 100)
        // Consistency only means something if the target was mutating.
        #expect(duringTheLoop > 0)
    }

    @Test(arguments: ["procmap-query", "retry-stable", "smaps", "frozen"])
    func quietSnapshotsHaveNoAnomalies(reader: String) throws {
        let recorded = try record(reader: reader, seed: 7, pages: 300)
        #expect(recorded.report.modelValidated)
        for snapshot in try quietSnapshots(recorded.report) {
            #expect(snapshot.anomalies.isEmpty, "\(reader) snapshot \(snapshot.index): \(snapshot.anomalies.map(\.kind))")
            #expect(snapshot.unmodeledLines.isEmpty, "\(reader) snapshot \(snapshot.index)")
            #expect(snapshot.consistent, "\(reader) snapshot \(snapshot.index)")
        }
    }

    @Test func procmapQueryAnswersAreTrueAtSomeInstantOfTheirQuery() throws {
        let recorded = try record(reader: "procmap-query", seed: 31)
        let report = recorded.report
        #expect(report.modelValidated)
        // Every line, i.e. every answer, is explained by a state inside its
        // query's window: no phantom line, nothing unmodeled.
        #expect(report.totals.phantom == 0)
        #expect(report.totals.unmodeled == 0)
        #expect(report.snapshots.allSatisfy { $0.complete })

        // One chunk per query: requested = query address, starting at 0 and
        // continuing from the end of the mapping answered before; the bytes
        // are one maps line; ENOENT ends the walk as a 0-byte chunk.
        for chunks in snapshotChunks(recorded.trace) {
            try #require(chunks.count >= 2)
            #expect(chunks[0].requested == 0 && chunks[0].offset == 0)
            #expect(chunks.last?.returned == 0 && chunks.last?.errno == 0)
            for (chunk, next) in zip(chunks, chunks.dropFirst()) {
                let line = try MapsParser.parseLinux(chunk.bytes).lines
                try #require(line.count == 1, "chunk \(chunk.sequence) is not one line")
                #expect(line[0].end > chunk.requested)
                #expect(next.requested == line[0].end)
                #expect(next.offset == chunk.offset + UInt64(chunk.returned))
                #expect(chunk.bytes.count == Int(chunk.returned) && chunk.bytes.last == UInt8(ascii: "\n"))
                #expect(chunk.tBegin <= chunk.tEnd && chunk.tEnd <= next.tBegin)
            }
        }

        // Rendered exactly as the kernel prints maps: a quiet snapshot is the
        // final quiescent maps byte for byte, except the [vsyscall] gate area,
        // which PROCMAP_QUERY does not report (and [stack], which may grow).
        let final = try #require(recorded.trace.quiescent(.final))
        let expected = lineBytes(final.text).filter { !endsWith($0, "[vsyscall]") && !endsWith($0, "[stack]") }
        let chunks = snapshotChunks(recorded.trace)
        for snapshot in try quietSnapshots(report) {
            let text = chunks[snapshot.index].flatMap(\.bytes)
            #expect(lineBytes(text).filter { !endsWith($0, "[stack]") } == expected, "snapshot \(snapshot.index)")
        }
    }

    @Test func retryStableLogsEveryAttemptAndAcceptsOnlyRepeats() throws {
        let attempts = 3
        let results = 12
        let recorded = try record(reader: "retry-stable:\(attempts)", seed: 41, snapshots: results)
        #expect(recorded.trace.header?.reader == "retry-stable")
        #expect(recorded.trace.header?.readerParameters[parameter: "max_attempts"] == "\(attempts)")
        let ends = recorded.trace.snapshotEnds
        let texts = snapshotChunks(recorded.trace).map { $0.flatMap(\.bytes) }
        #expect(ends.allSatisfy { $0.flags.contains(.retryAttempt) })

        // Split into groups: a group ends with its accepted attempt or after
        // `attempts` attempts. An accepted attempt repeats the one before it.
        var groups: [[Int]] = []
        var current: [Int] = []
        for (index, end) in ends.enumerated() {
            current.append(index)
            if end.flags.contains(.accepted) {
                #expect(current.count >= 2)
                #expect(texts[index] == texts[index - 1], "accepted attempt \(index) differs from the one before")
                groups.append(current)
                current = []
            } else if current.count == attempts {
                groups.append(current)
                current = []
            }
        }
        #expect(current.isEmpty)
        #expect(groups.count == results)
        // Once the mutator is done, the first two attempts agree.
        let quiet = groups.filter { ends[$0[0]].flags.contains(.afterMutatorFinished) }
        try #require(!quiet.isEmpty)
        for group in quiet {
            #expect(group.count == 2 && ends[group[1]].flags.contains(.accepted))
        }
    }

    @Test func smapsSnapshotsHaveAHeaderForEveryMapping() throws {
        let recorded = try record(reader: "smaps", seed: 53, pages: 300)
        #expect(recorded.trace.header?.readerParameters[parameter: "file"] == "smaps")
        let final = try #require(recorded.trace.quiescent(.final))
        let expected = lineBytes(final.text).filter { !endsWith($0, "[stack]") }
        let chunks = snapshotChunks(recorded.trace)
        for snapshot in try quietSnapshots(recorded.report) {
            let lines = lineBytes(chunks[snapshot.index].flatMap(\.bytes))
            // smaps: each mapping's header line (the maps line) then its
            // "Name: value" fields; headers begin with a lowercase hex digit.
            let headers = lines.filter { line in
                guard let first = line.first else { return false }
                return (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
                    || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "f"))
            }
            #expect(lines.count > 10 * headers.count)
            #expect(headers.filter { !endsWith($0, "[stack]") } == expected, "snapshot \(snapshot.index)")
        }
    }
}
