// The readers beyond the seed: procmap-query, retry-stable, smaps, frozen.
// Parsing and the ptrace freeze are checked in-process; the readers
// themselves through small real recordings made by the built binary and
// judged by MapsAnalysis.

import MapsAnalysis
import MapsModel
import MapsTrace
import MapsTestSupport
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
        let strategy = ReaderStrategy.retryStable(maxAttempts: 5)
        let plan = strategy.bufferPlan(snapshotBytes: 2 << 20, snapshots: 7, limit: 1 << 30)
        let configuration = ReaderProcessConfiguration(
            targetPID: 1, strategy: strategy, snapshotCount: 7, logFD: -1, readyFD: -1,
            byteCapacity: plan.capacityBytes, populatedBytes: plan.populatedBytes)
        #expect(configuration.snapshotCapacity == 35)
        #expect(configuration.effectiveByteCapacity >= 35 * (2 << 20))
        #expect(configuration.arguments.contains("retry-stable:5"))
    }
}

/// The state letter of /proc/PID/stat (R, S, t for a tracing stop, ...).
private func processState(_ pid: pid_t) -> Character? {
    let text = readText("/proc/\(pid)/stat")
    guard let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(close, offsetBy: 2)...].first
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

    var state: Character? { processState(pid) }

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
    var trace: LoadedTrace
    var report: AnalysisReport
}

/// Runs `mapsrace` in `directory` with `variables` (NAME=value) as its
/// environment; its exit code and standard error.
private func runMapsrace(_ arguments: [String], in directory: String, variables: [String]) throws -> (Int32, String) {
    let run = try MapsTestSupport.runMapsrace(arguments, in: directory, environment: variables)
    return (run.exitCode, run.standardError)
}

/// Records with `reader` into a fresh directory, loads the trace and
/// analyzes it. `readerDelayMilliseconds` holds the reader back after the
/// mutator started (the test-only knob of the reader process).
private func record(
    reader: String, seed: UInt64, pages: Int = pageCount, snapshots: Int = snapshotCount,
    readerDelayMilliseconds: Int = 0
) throws -> Recorded {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let (code, standardError) = try runMapsrace(
        ["record", "--pages", "\(pages)", "--snapshots", "\(snapshots)", "--seed", "\(seed)",
         "--reader", reader, "-o", "trace.mrtrace", "--json", "--test-reader-delay-ms", "\(readerDelayMilliseconds)"],
        in: directory, variables: [])
    try #require(code == 0, "record --reader \(reader) failed: \(standardError)")
    let path = directory + "/trace.mrtrace"
    let trace = try LoadedTrace(path: path)
    let report = try TraceAnalysis(.file(path)).run()
    return Recorded(trace: trace, report: report)
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

@Suite(.serialized) struct ReaderStrategyRecordings {
    @Test func frozenSnapshotsAreAllConsistent() throws {
        var total = 0
        var duringTheLoop = 0
        var advanced = 0
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
            // The target ran between the stops: later snapshots see later states.
            let states = report.snapshots.compactMap(\.explainingState)
            #expect(zip(states, states.dropFirst()).allSatisfy { $0 <= $1 })
            // (On a loaded machine one recording may see a single state; over
            // all of them the target must have moved.)
            advanced += Set(states).count - 1
            // The mutator was resumed every time: it finished its whole loop.
            #expect(recorded.trace.mutations.count == RollingWorkload.mutationCount(pageCount: pageCount))
        }
        #expect(total >= 100)
        #expect(advanced > 0, "no frozen snapshot saw a later state than the one before it")
        // Consistency only means something if the target was mutating.
        #expect(duringTheLoop > 0)
    }

    /// The control: the reader starts once the mutator's loop is over
    /// (300 pages take a few milliseconds), so no mutation overlaps a read.
    @Test(arguments: ["procmap-query", "retry-stable", "smaps", "frozen"])
    func quietSnapshotsHaveNoAnomalies(reader: String) throws {
        let recorded = try record(reader: reader, seed: 7, pages: 300, snapshots: 5, readerDelayMilliseconds: 300)
        #expect(recorded.report.modelValidated)
        #expect(recorded.report.snapshots.allSatisfy { $0.afterMutatorFinished })
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
        let quiet = try record(reader: "procmap-query", seed: 32, pages: 300, snapshots: 3, readerDelayMilliseconds: 300)
        let final = try #require(quiet.trace.quiescent(.final))
        let expected = lineBytes(final.text).filter { !endsWith($0, "[vsyscall]") && !endsWith($0, "[stack]") }
        let chunks = snapshotChunks(quiet.trace)
        for snapshot in try quietSnapshots(quiet.report) {
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
        let quiet = try record(
            reader: "retry-stable:\(attempts)", seed: 42, pages: 300, snapshots: 3, readerDelayMilliseconds: 300)
        let quietEnds = quiet.trace.snapshotEnds
        #expect(quietEnds.count == 6)
        for (index, end) in quietEnds.enumerated() {
            #expect(end.flags.contains(.retryAttempt))
            #expect(end.flags.contains(.accepted) == (index % 2 == 1), "attempt \(index)")
        }
    }

    @Test func smapsSnapshotsHaveAHeaderForEveryMapping() throws {
        let recorded = try record(reader: "smaps", seed: 53, pages: 300, snapshots: 5, readerDelayMilliseconds: 300)
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

@Suite(.serialized) struct FrozenInterruption {
    /// The children of `pid`, from /proc (CONFIG_PROC_CHILDREN).
    func children(of pid: pid_t) -> [pid_t] {
        readText("/proc/\(pid)/task/\(pid)/children").split(separator: " ").compactMap { pid_t($0) }
    }

    /// A stop signal to `record` while its reader keeps stopping it: the
    /// signal reaches the recorder (handed back on detach if it arrived
    /// during a stop), the recording ends as interrupted, and nothing is left
    /// traced or running.
    @Test(arguments: [SIGINT, SIGTERM])
    func stopSignalEndsAFrozenRecording(signal: Int32) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let process = try RunningMapsrace.start(
            ["record", "--pages", "5000", "--snapshots", "500", "--seed", "5", "--reader", "frozen", "-o", "t.mrtrace"],
            in: directory)
        var reader: pid_t?
        var poll = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        for _ in 0..<20_000 {
            if let child = children(of: process.pid).first {
                reader = child
                break
            }
            nanosleep(&poll, nil)
        }
        try #require(reader != nil, "the reader process never appeared")
        // Signal once the reader has stopped the recorder at least once.
        var seenStopped = false
        for _ in 0..<100_000 where !seenStopped {
            seenStopped = processState(process.pid) == "t"
        }
        try #require(seenStopped, "the frozen reader never stopped the recorder")
        kill(process.pid, signal)
        let code = process.wait()
        #expect(code == 128 + signal, "\(process.standardError)")

        let trace = try LoadedTrace(path: directory + "/t.mrtrace")
        let trailer = try #require(trace.trailer)
        #expect(trailer.interrupted && trailer.signal == signal)
        #expect(trace.snapshotEnds.count >= 1 && trace.snapshotEnds.count < 500)
        #expect(kill(reader!, 0) == -1 && errno == ESRCH)
    }
}
