// Small real recordings (2000 pages, 3 snapshots: well under a second each),
// made by the built `mapsrace` binary and read back with TraceReader.

import MapsModel
import MapsTrace
import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

private let pageCount = 2000
private let snapshotCount = 3

/// Records into a fresh directory and loads the trace.
private func recordTrace(reader: String, seed: UInt64, extra: [String] = []) throws -> (MapsraceRun, LoadedTrace) {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    let run = try runMapsrace(
        ["record", "--pages", "\(pageCount)", "--snapshots", "\(snapshotCount)", "--seed", "\(seed)",
         "--reader", reader, "-o", "trace.mrtrace", "--json"] + extra,
        in: directory)
    try #require(run.exitCode == 0, "record failed: \(run.standardError)")
    return (run, try LoadedTrace(path: directory + "/trace.mrtrace"))
}

/// Arena page index of a mutation's address.
private func pageIndex(_ mutation: MutationRecord, in arena: ArenaRecord, pageSize: UInt64) -> UInt64 {
    (mutation.address - arena.start) / pageSize
}

@Suite(.serialized) struct Recording {
    @Test func mutationsAreCompleteDenseAndFollowTheSeed() throws {
        let (run, trace) = try recordTrace(reader: "chromium", seed: 7)
        #expect(trace.completion == .complete)
        let header = try #require(trace.header)
        let arena = try #require(trace.arena)
        #expect(header.seed == 7)
        #expect(arena.end - arena.start == UInt64(pageCount) * header.pageSize)
        #expect(run.standardOutput.contains("\"seed\": 7"))

        let mutations = trace.mutations
        let expected = (pageCount + 1) / 2 + 1 + 2 * (pageCount - 1)
        #expect(mutations.count == expected)
        #expect(run.standardOutput.contains("\"mutations\": \(expected)"))
        #expect(mutations.map(\.sequence) == (0..<UInt64(expected)).map { $0 })
        #expect(mutations.allSatisfy { $0.succeeded && $0.result == 0 && $0.kind == .mprotect })
        #expect(mutations.allSatisfy { $0.tBegin <= $0.tEnd })
        #expect(mutations.allSatisfy { $0.length == header.pageSize })
        for (earlier, later) in zip(mutations, mutations.dropFirst()) {
            #expect(earlier.tEnd <= later.tBegin)
        }

        // Setup: even pages read-only, then the first page of the order read-write.
        let order = rollingPageOrder(pageCount: pageCount, seed: 7)
        let setupCount = (pageCount + 1) / 2
        for (index, mutation) in mutations.prefix(setupCount).enumerated() {
            #expect(pageIndex(mutation, in: arena, pageSize: header.pageSize) == UInt64(2 * index))
            #expect(mutation.prot == PROT_READ)
        }
        let firstReadWrite = mutations[setupCount]
        #expect(pageIndex(firstReadWrite, in: arena, pageSize: header.pageSize) == UInt64(order[0]))
        #expect(firstReadWrite.prot == PROT_READ | PROT_WRITE)
        // The loop: page i read-write, then page i-1 none.
        let loop = Array(mutations.dropFirst(setupCount + 1))
        for i in 1..<pageCount {
            let rising = loop[2 * (i - 1)]
            let falling = loop[2 * (i - 1) + 1]
            #expect(pageIndex(rising, in: arena, pageSize: header.pageSize) == UInt64(order[i]))
            #expect(rising.prot == PROT_READ | PROT_WRITE)
            #expect(pageIndex(falling, in: arena, pageSize: header.pageSize) == UInt64(order[i - 1]))
            #expect(falling.prot == PROT_NONE)
        }

        let trailer = try #require(trace.trailer)
        #expect(!trailer.interrupted)
        #expect(trailer.mutations == UInt64(expected))
        #expect(trailer.mutatorLoopBegin >= firstReadWrite.tEnd)
        #expect(trailer.mutatorLoopEnd >= loop.last!.tEnd)
    }

    @Test func theSameSeedGivesTheSamePageOrder() throws {
        let (_, first) = try recordTrace(reader: "read:4096", seed: 1234)
        let (_, second) = try recordTrace(reader: "pmap", seed: 1234)
        let (_, other) = try recordTrace(reader: "read:4096", seed: 1235)
        func pages(_ trace: LoadedTrace) throws -> [UInt64] {
            let arena = try #require(trace.arena)
            let pageSize = try #require(trace.header).pageSize
            return trace.mutations.map { pageIndex($0, in: arena, pageSize: pageSize) }
        }
        #expect(try pages(first) == pages(second))
        #expect(try pages(first) != pages(other))
    }

    @Test(arguments: ["chromium", "pmap", "read:1024", "read:65536", "cat"])
    func snapshotsAreContiguousAndParse(reader: String) throws {
        let (_, trace) = try recordTrace(reader: reader, seed: 3)
        let arena = try #require(trace.arena)
        #expect(trace.snapshotEnds.count == snapshotCount)
        #expect(trace.snapshotEnds.allSatisfy { $0.flags.contains(.reachedEOF) && !$0.flags.contains(.failed) })
        for snapshot in 0..<UInt32(snapshotCount) {
            let chunks = trace.chunks.filter { $0.snapshot == snapshot }
            try #require(!chunks.isEmpty)
            #expect(chunks.map(\.sequence) == (0..<UInt32(chunks.count)).map { $0 })
            #expect(chunks.first?.offset == 0)
            #expect(chunks.last?.returned == 0)
            for (chunk, next) in zip(chunks, chunks.dropFirst()) {
                #expect(next.offset == chunk.offset + UInt64(chunk.returned))
                #expect(chunk.tBegin <= chunk.tEnd && chunk.tEnd <= next.tBegin)
            }
            #expect(chunks.allSatisfy { $0.bytes.count == Int($0.returned) && $0.errno == 0 })
            let text = chunks.flatMap(\.bytes)
            let parsed = try MapsParser.parseLinux(text)
            // The arena is there between its guards (lines merge as the loop
            // runs), with only the permissions the workload gives.
            let arenaLines = parsed.lines.filter { $0.start >= arena.start && $0.end <= arena.end }
            #expect(!arenaLines.isEmpty)
            #expect(arenaLines.allSatisfy { ["r--p", "---p", "rw-p"].contains($0.permissions.description) })
            #expect(parsed.lines.contains { $0.end == arena.start && $0.permissions.shared })
        }
    }

    @Test func requestSizesFollowEachStrategy() throws {
        func requests(_ reader: String) throws -> [[UInt64]] {
            let (_, trace) = try recordTrace(reader: reader, seed: 11)
            return (0..<UInt32(snapshotCount)).map { snapshot in
                trace.chunks.filter { $0.snapshot == snapshot }.map(\.requested)
            }
        }
        // glibc's fread on a 1024-byte buffer: the 4 KiB chunk read directly,
        // one buffer refill, then direct reads of what is left of 64 KiB.
        for snapshot in try requests("chromium") {
            #expect(snapshot.count > 3)
            #expect(snapshot[0] == 4096)
            #expect(snapshot[1] == 1024)
            #expect(snapshot[2] > 4096)
        }
        for snapshot in try requests("pmap") { #expect(snapshot.allSatisfy { $0 == 1024 }) }
        for snapshot in try requests("read:2000") { #expect(snapshot.allSatisfy { $0 == 2000 }) }
        for snapshot in try requests("cat") { #expect(snapshot.allSatisfy { $0 == 131072 }) }
    }

    @Test func quiescentMapsShowTheArenaAndNothingElseChanges() throws {
        let (_, trace) = try recordTrace(reader: "chromium", seed: 21)
        let arena = try #require(trace.arena)
        let pageSize = try #require(trace.header).pageSize
        let order = rollingPageOrder(pageCount: pageCount, seed: 21)
        let initial = try MapsParser.parseLinux(try #require(trace.quiescent(.initial)).text).lines
        let final = try MapsParser.parseLinux(try #require(trace.quiescent(.final)).text).lines

        let arenaLines = initial.filter { $0.start >= arena.start && $0.end <= arena.end }
        #expect(arenaLines.count == pageCount)
        for line in arenaLines {
            #expect(line.length == pageSize)
            let page = (line.start - arena.start) / pageSize
            let expected = page == UInt64(order[0]) ? "rw-p" : (page % 2 == 0 ? "r--p" : "---p")
            #expect(line.permissions.description == expected, "page \(page)")
        }
        // The guards: one shared page on each side.
        for lines in [initial, final] {
            let before = lines.first { $0.end == arena.start }
            let after = lines.first { $0.start == arena.end }
            #expect(before?.permissions.description == "---s" && before?.length == pageSize)
            #expect(after?.permissions.description == "---s" && after?.length == pageSize)
        }
        // After the loop only the last page of the order is read-write.
        let finalArena = final.filter { $0.start >= arena.start && $0.end <= arena.end }
        #expect(finalArena.reduce(0) { $0 + $1.length } == arena.end - arena.start)
        let readWrite = finalArena.filter { $0.permissions.write }
        #expect(readWrite.map(\.start) == [arena.start + UInt64(order[pageCount - 1]) * pageSize])
        // Nothing outside the arena and its guards was mapped or changed.
        let outside = { (line: MapsLine) in line.end <= arena.start - pageSize || line.start >= arena.end + pageSize }
        #expect(initial.filter(outside).filter { $0.path != "[stack]" } == final.filter(outside).filter { $0.path != "[stack]" })
    }

    @Test func snapshotsAfterTheLoopAreMarked() throws {
        let (_, trace) = try recordTrace(reader: "pmap", seed: 5)
        let lastMutationEnd = try #require(trace.mutations.last).tEnd
        let begins = trace.records.compactMap { if case .snapshotBegin(let begin) = $0 { begin } else { nil } }
        #expect(begins.count == trace.snapshotEnds.count)
        for (begin, end) in zip(begins, trace.snapshotEnds) {
            #expect(end.flags.contains(.afterMutatorFinished) == (begin.tBegin > lastMutationEnd))
        }
    }

    @Test func noLogWritesNoTrace() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(
            ["record", "--pages", "\(pageCount)", "--snapshots", "2", "--seed", "9", "--no-log", "--json"], in: directory)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("\"trace\": null"))
        #expect(run.standardOutput.contains("\"mutations\": \(RollingWorkload.mutationCount(pageCount: pageCount))"))
        #expect(run.standardOutput.contains("\"snapshots\": 2"))
        #expect(access(directory + "/rolling-chromium-seed9.mrtrace", F_OK) != 0)
    }

    @Test func defaultTraceNameSaysWorkloadReaderAndSeed() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(
            ["record", "--pages", "100", "--snapshots", "1", "--seed", "77", "--reader", "read:512"], in: directory)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(access(directory + "/rolling-read512-seed77.mrtrace", F_OK) == 0)
        #expect(run.standardOutput.contains("seed 77"))
    }
}

@Suite(.serialized) struct RecordingErrors {
    @Test func anArenaOverTheMapCountIsRefusedBeforeMapping() throws {
        let limit = try #require(MachineLimits.maxMapCount())
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(["record", "--pages", "\(limit + 10)", "-o", "t.mrtrace"], in: directory)
        #expect(run.exitCode == 20)
        #expect(run.standardError.contains("vm.max_map_count is \(limit)"))
        #expect(run.standardError.contains("sysctl vm.max_map_count="))
    }

    @Test func anUnwritableOutputIsRefusedFirst() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(["record", "--pages", "100", "-o", "missing/dir/t.mrtrace"], in: directory)
        #expect(run.exitCode == 22)
        #expect(run.standardError.contains("missing/dir/t.mrtrace"))
        #expect(run.standardOutput.isEmpty)
    }

    @Test(arguments: ["read:0", "nope"])
    func aBadReaderIsAUsageError(_ reader: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(["record", "--pages", "100", "--reader", reader], in: directory)
        #expect(run.exitCode == 64)
        #expect(run.standardError.contains(reader))
    }
}

@Suite(.serialized) struct Interruption {
    /// The children of `pid`, from /proc (CONFIG_PROC_CHILDREN).
    func children(of pid: pid_t) -> [pid_t] {
        readText("/proc/\(pid)/task/\(pid)/children").split(separator: " ").compactMap { pid_t($0) }
    }

    @Test func sigintMidRecordingLeavesAnInterruptedTraceAndNoProcess() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Big enough that the loop and the reader run for a while (65000
        // pages, the seed size); the signal goes as soon as the reader exists.
        let process = try RunningMapsrace.start(
            ["record", "--snapshots", "20", "--seed", "3", "-o", "t.mrtrace"], in: directory)
        var reader: pid_t?
        var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        for _ in 0..<20_000 {
            if let child = children(of: process.pid).first {
                reader = child
                break
            }
            nanosleep(&pause, nil)
        }
        kill(process.pid, SIGINT)
        let code = process.wait()
        try #require(reader != nil, "the reader process never appeared")
        #expect(code == 130, "\(process.standardError)")
        #expect(process.standardError.contains("interrupted"))

        let trace = try LoadedTrace(path: directory + "/t.mrtrace")
        #expect(trace.completion == .complete)
        let trailer = try #require(trace.trailer)
        #expect(trailer.interrupted)
        #expect(trailer.signal == SIGINT)
        #expect(trailer.mutations == UInt64(trace.mutations.count))
        #expect(trace.mutations.count < RollingWorkload.mutationCount(pageCount: 65000))
        #expect(trace.quiescent(.final) != nil)
        #expect(trace.header?.readerPID == reader)
        // The reader was reaped: no such process any more.
        #expect(kill(reader!, 0) == -1 && errno == ESRCH)
    }
}
