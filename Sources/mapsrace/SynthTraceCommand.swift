import ArgumentParser
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Writes a synthetic trace the size of the seed experiment, for benchmarking
/// the trace library (tools/bench-trace.sh). Nothing is recorded: the maps
/// texts are generated to look like a rolling-mprotect arena.
struct SynthTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_synth-trace",
        abstract: "Write a synthetic seed-sized trace (benchmarks only).",
        shouldDisplay: false
    )

    @Option(name: [.customShort("o"), .long], help: "The trace file to write.")
    var output: String

    @Option(help: "Mutations (mprotect calls) in the trace.")
    var mutations: Int = 130_000

    @Option(help: "Snapshots, each 1 to 3 MB of maps text read in ~4 KiB chunks.")
    var snapshots: Int = 20

    @Option(help: "Pages in the synthetic arena.")
    var pages: Int = 65_000

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 1

    @Option(help: "Raw bytes per block.")
    var blockSize: Int = 1 << 20

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard mutations >= 0, snapshots >= 0 else { throw ValidationError("counts must not be negative") }
        guard pages >= 16 else { throw ValidationError("--pages must be at least 16") }
    }

    func run() throws {
        let started = MonotonicClock.now()
        var generator = SplitMix64(seed: seed)
        let maps = SyntheticMaps(pages: pages)
        let origin = MonotonicClock.now()
        var clock = origin
        let header = TraceHeader(
            toolVersion: mapsraceVersion, kernelRelease: "synthetic", kernelVersion: "#1 synthetic",
            machine: "x86_64", pageSize: 4096, clockID: 1, clockResolutionNs: 1,
            startWallClockNs: 1_760_000_000_000_000_000, originNs: origin, mutatorPID: 1000, readerPID: 1001,
            workload: "rolling", workloadParameters: [TraceParameter("pages", String(pages))],
            reader: "chromium", readerParameters: [TraceParameter("first", "4096"), TraceParameter("next", "65536")],
            seed: seed)

        var writerNs: UInt64 = 0
        var records = 0
        let writer = try reportingFailures { try TraceWriter(path: output, blockSize: blockSize) }
        func append(_ record: TraceRecord) throws {
            let before = MonotonicClock.now()
            try reportingFailures { try writer.append(record) }
            writerNs += MonotonicClock.now() - before
            records += 1
        }

        try append(.header(header))
        try append(.arena(ArenaRecord(start: maps.arenaStart, end: maps.arenaStart + UInt64(pages) * 4096)))
        let initialText = maps.text(regions: pages / 2, generator: &generator)
        try append(.quiescentMaps(QuiescentMaps(role: .initial, tBegin: clock, tEnd: clock + 4_000_000, text: initialText)))
        clock += 5_000_000
        let loopBegin = clock

        var sequence: UInt64 = 0
        func mutate(until target: Int) throws {
            while sequence < UInt64(target) {
                let page = generator.next() % UInt64(pages)
                let tBegin = clock + generator.next() % 400
                let tEnd = tBegin + 300 + generator.next() % 600
                clock = tEnd
                try append(.mutation(MutationRecord(
                    sequence: sequence, kind: .mprotect, address: maps.arenaStart + page * 4096, length: 4096,
                    prot: sequence % 2 == 0 ? 3 : 0, result: 0, tBegin: tBegin, tEnd: tEnd, threadID: 1000)))
                sequence += 1
            }
        }

        var chunkCount = 0
        for snapshot in 0 ..< snapshots {
            // 1 to 3 MB of text: ~51 bytes per region line.
            let targetBytes = 1_000_000 + Int(generator.next() % 2_000_000)
            let text = maps.text(regions: min(pages, targetBytes / 51), generator: &generator)
            let chunks = kernelChunks(text)
            let mutationsBefore = mutations * snapshot / max(snapshots, 1)
            let mutationsAfter = mutations * (snapshot + 1) / max(snapshots, 1)
            try mutate(until: mutationsBefore)
            try append(.snapshotBegin(SnapshotBegin(index: UInt32(snapshot), tBegin: clock, strategy: "chromium")))
            var offset = 0
            for (index, range) in chunks.enumerated() {
                let tBegin = clock + 200
                let tEnd = tBegin + 15_000 + generator.next() % 10_000
                clock = tEnd
                try append(.readChunk(ReadChunk(
                    snapshot: UInt32(snapshot), sequence: UInt32(index), offset: UInt64(offset),
                    requested: index == 0 ? 4096 : 65536, returned: Int64(range.count),
                    tBegin: tBegin, tEnd: tEnd, bytes: Array(text[range]))))
                offset += range.count
                chunkCount += 1
                try mutate(until: mutationsBefore + (mutationsAfter - mutationsBefore) * (index + 1) / chunks.count)
            }
            try append(.snapshotEnd(SnapshotEnd(index: UInt32(snapshot), tEnd: clock + 100, flags: [.reachedEOF])))
        }
        try mutate(until: mutations)
        let loopEnd = clock
        let finalText = maps.text(regions: pages / 2, generator: &generator)
        try append(.quiescentMaps(QuiescentMaps(role: .final, tBegin: clock + 1_000, tEnd: clock + 4_000_000, text: finalText)))
        try append(.trailer(TraceTrailer(
            mutations: sequence, snapshots: UInt64(snapshots), readChunks: UInt64(chunkCount), quiescentMaps: 2,
            interrupted: false, mutatorLoopBegin: loopBegin, mutatorLoopEnd: loopEnd)))
        let finishStarted = MonotonicClock.now()
        try reportingFailures { try writer.finish() }
        writerNs += MonotonicClock.now() - finishStarted
        let totalNs = MonotonicClock.now() - started

        let raw = writer.rawBytesWritten, compressed = writer.compressedBytesWritten
        let writerMBps = Double(raw) / 1e6 / (Double(writerNs) / 1e9)
        if json {
            print("""
                {"records":\(records),"blocks":\(writer.blocksWritten),"raw_bytes":\(raw),\
                "compressed_bytes":\(compressed),"writer_ns":\(writerNs),"total_ns":\(totalNs)}
                """)
        } else {
            print("""
                wrote \(output): \(records) records in \(writer.blocksWritten) blocks
                raw         \(raw) bytes
                compressed  \(compressed) bytes (\(formatted(Double(raw) / Double(max(compressed, 1))))x)
                writer      \(formatted(Double(writerNs) / 1e6)) ms (\(formatted(writerMBps)) MB/s of raw stream)
                total       \(formatted(Double(totalNs) / 1e6)) ms including generation
                """)
        }
    }
}

/// Maps text shaped like the seed's arena: a few library mappings, the arena
/// as `regions` lines of alternating permissions, then stack and vdso.
private struct SyntheticMaps {
    let pages: Int
    let arenaStart: UInt64 = 0x7f3a_2000_0000
    /// Lowercase hex of every page boundary of the arena, 12 digits each.
    private let boundaries: [UInt8]
    private let prologue: [UInt8]
    private let epilogue: [UInt8]

    init(pages: Int) {
        self.pages = pages
        var boundaries: [UInt8] = []
        boundaries.reserveCapacity((pages + 1) * 12)
        for page in 0 ... pages {
            let hex = Array(String(arenaStart + UInt64(page) * 4096, radix: 16).utf8)
            boundaries.append(contentsOf: [UInt8](repeating: UInt8(ascii: "0"), count: max(0, 12 - hex.count)) + hex)
        }
        self.boundaries = boundaries
        prologue = Array("""
            5581c4a00000-5581c4a02000 r--p 00000000 08:01 1835021                    /usr/local/bin/mapsrace
            5581c4a02000-5581c4c10000 r-xp 00002000 08:01 1835021                    /usr/local/bin/mapsrace
            5581c4c10000-5581c4d00000 r--p 00210000 08:01 1835021                    /usr/local/bin/mapsrace
            5581c6e4f000-5581c6e70000 rw-p 00000000 00:00 0                          [heap]

            """.utf8)
        epilogue = Array("""
            7f3b50000000-7f3b50028000 r--p 00000000 08:01 1311235                    /usr/lib/x86_64-linux-gnu/libc.so.6
            7f3b50028000-7f3b501bd000 r-xp 00028000 08:01 1311235                    /usr/lib/x86_64-linux-gnu/libc.so.6
            7ffd1c1e0000-7ffd1c201000 rw-p 00000000 00:00 0                          [stack]
            7ffd1c3f4000-7ffd1c3f6000 r-xp 00000000 00:00 0                          [vdso]

            """.utf8)
    }

    /// The text with the arena cut into `regions` mappings at random page boundaries.
    func text(regions: Int, generator: inout SplitMix64) -> [UInt8] {
        let regionCount = max(1, min(regions, pages))
        var cuts = Set<Int>()
        while cuts.count < regionCount - 1 { cuts.insert(1 + Int(generator.next() % UInt64(pages - 1))) }
        let ends = cuts.sorted() + [pages]
        var text: [UInt8] = []
        text.reserveCapacity(prologue.count + epilogue.count + regionCount * 52)
        text.append(contentsOf: prologue)
        var start = 0
        for (index, end) in ends.enumerated() {
            text.append(contentsOf: boundaries[start * 12 ..< start * 12 + 12])
            text.append(UInt8(ascii: "-"))
            text.append(contentsOf: boundaries[end * 12 ..< end * 12 + 12])
            text.append(contentsOf: index % 2 == 0 ? noAccess : readWrite)
            start = end
        }
        text.append(contentsOf: epilogue)
        return text
    }

    private let noAccess = Array(" ---p 00000000 00:00 0 \n".utf8)
    private let readWrite = Array(" rw-p 00000000 00:00 0 \n".utf8)
}

/// Splits maps text the way the kernel returns it: whole lines, at most one
/// page per read, then an empty read at end of file.
private func kernelChunks(_ text: [UInt8]) -> [Range<Int>] {
    var chunks: [Range<Int>] = []
    var start = 0
    while start < text.count {
        var end = start
        var lineStart = start
        while lineStart < text.count {
            var lineEnd = lineStart
            while lineEnd < text.count && text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            lineEnd = min(lineEnd + 1, text.count)
            if lineEnd - start > 4096 && end > start { break }
            end = lineEnd
            lineStart = lineEnd
        }
        chunks.append(start ..< end)
        start = end
    }
    chunks.append(text.count ..< text.count)
    return chunks
}

private func formatted(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
