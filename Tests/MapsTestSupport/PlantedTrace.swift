import Foundation
import MapsAnalysis
import MapsModel
import MapsTrace

/// Shared by the analysis and command tests.
///
/// A trace built by hand: a small arena, one-page mprotects at chosen times,
/// and snapshots whose reads return chosen lines at chosen times. The
/// expected maps of each state come from this file's own page array, not
/// from MapsModel, so the analysis is checked against an independent model.
public struct PlantedTrace {
    public static let pageSize: UInt64 = 4096
    public static let arenaStart: UInt64 = 0x7f00_0000_0000
    public static let origin: UInt64 = 1_000_000_000

    /// PROT bits of each arena page before any mutation.
    public var initial: [Int32]
    /// One-page mprotects (or munmaps, with prot `unmapped`): page, new
    /// prot, and when (ns after origin) the syscall began; each lasts 10 ns.
    public var mutations: [(page: Int, prot: Int32, at: UInt64)] = []
    /// Each snapshot is a list of reads: when (ns after origin) and which lines.
    public var snapshots: [[PlantedRead]] = []
    /// The final quiescent maps, when it is not what the mutations lead to.
    public var finalMaps: [String]?
    /// The trace header's reader name and parameters.
    public var reader = "planted"
    public var readerParameters: [TraceParameter] = []
    /// Flags each snapshot ends with besides `reachedEOF` (by index; none
    /// for snapshots past the end of this list).
    public var extraFlags: [SnapshotFlags] = []

    public init(initial: [Int32]) {
        self.initial = initial
    }

    public struct PlantedRead {
        public var at: UInt64
        public var duration: UInt64 = 5
        public var lines: [String]

        public init(at: UInt64, duration: UInt64 = 5, lines: [String]) {
            self.at = at
            self.duration = duration
            self.lines = lines
        }
    }

    public static let before = "555555554000-555555556000 r--p 00000000 fe:00 1234                       /usr/bin/planted"
    public static let after = "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]"

    public static func address(page: Int) -> UInt64 { arenaStart + UInt64(page) * pageSize }

    /// The protection of every page after the first `state` mutations.
    public func pages(at state: Int) -> [Int32] {
        var pages = initial
        for mutation in mutations.prefix(state) { pages[mutation.page] = mutation.prot }
        return pages
    }

    /// The arena's lines at `state`, as the kernel prints them: equal
    /// neighbours merged.
    public func arenaLines(at state: Int) -> [String] {
        let pages = pages(at: state)
        var lines: [String] = []
        var start = 0
        for page in 1...pages.count where page == pages.count || pages[page] != pages[start] {
            if pages[start] != unmapped { lines.append(Self.line(from: start, to: page, prot: pages[start])) }
            start = page
        }
        return lines
    }

    public static func line(from first: Int, to last: Int, prot: Int32) -> String {
        MapsLine(start: address(page: first), end: address(page: last), permissions: Permissions(prot: prot)).description
    }

    public func maps(at state: Int) -> [String] {
        [Self.before] + arenaLines(at: state) + [Self.after]
    }

    public static func text(_ lines: [String]) -> [UInt8] {
        Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// Writes the trace to a temporary file and returns its path.
    public func write() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("planted-\(UUID().uuidString).mrtrace").path
        let writer = try TraceWriter(path: path)
        let origin = Self.origin
        try writer.append(.header(TraceHeader(
            toolVersion: "test", kernelRelease: "6.18.0-planted", kernelVersion: "#1", machine: "x86_64",
            pageSize: Self.pageSize, clockID: 1, clockResolutionNs: 1, startWallClockNs: 0, originNs: origin,
            mutatorPID: 100, readerPID: 101, workload: "planted",
            workloadParameters: [TraceParameter("pages", "\(initial.count)")],
            reader: reader, readerParameters: readerParameters, seed: 7)))
        try writer.append(.arena(ArenaRecord(
            start: Self.arenaStart, end: Self.address(page: initial.count))))
        try writer.append(.quiescentMaps(QuiescentMaps(
            role: .initial, tBegin: origin + 1, tEnd: origin + 2, text: Self.text(maps(at: 0)))))
        for (index, mutation) in mutations.enumerated() {
            try writer.append(.mutation(MutationRecord(
                sequence: UInt64(index), kind: mutation.prot == unmapped ? .munmap : .mprotect,
                address: Self.address(page: mutation.page),
                length: Self.pageSize, prot: mutation.prot, tBegin: origin + mutation.at,
                tEnd: origin + mutation.at + 10, threadID: 100)))
        }
        for (index, reads) in snapshots.enumerated() {
            try writer.append(.snapshotBegin(SnapshotBegin(
                index: UInt32(index), tBegin: origin + reads[0].at, strategy: "planted")))
            var offset: UInt64 = 0
            for (sequence, read) in reads.enumerated() {
                let bytes = Self.text(read.lines)
                try writer.append(.readChunk(ReadChunk(
                    snapshot: UInt32(index), sequence: UInt32(sequence), offset: offset,
                    requested: 65536, returned: Int64(bytes.count),
                    tBegin: origin + read.at, tEnd: origin + read.at + read.duration, bytes: bytes)))
                offset += UInt64(bytes.count)
            }
            let last = reads[reads.count - 1]
            try writer.append(.readChunk(ReadChunk(
                snapshot: UInt32(index), sequence: UInt32(reads.count), offset: offset, requested: 65536,
                returned: 0, tBegin: origin + last.at + last.duration, tEnd: origin + last.at + last.duration + 1,
                bytes: [])))
            try writer.append(.snapshotEnd(SnapshotEnd(
                index: UInt32(index), tEnd: origin + last.at + last.duration + 2, flags: SnapshotFlags.reachedEOF.union(index < extraFlags.count ? extraFlags[index] : []))))
        }
        let end = (mutations.map(\.at).max() ?? 0) + 1000
        try writer.append(.quiescentMaps(QuiescentMaps(
            role: .final, tBegin: origin + end, tEnd: origin + end + 1, text: Self.text(finalMaps ?? maps(at: mutations.count)))))
        try writer.append(.trailer(TraceTrailer(
            mutations: UInt64(mutations.count), snapshots: UInt64(snapshots.count),
            readChunks: UInt64(snapshots.reduce(0) { $0 + $1.count + 1 }),
            quiescentMaps: 2, interrupted: false, mutatorLoopBegin: origin, mutatorLoopEnd: origin + end)))
        try writer.finish()
        return path
    }

    public func analyze() throws -> AnalysisReport {
        let path = try write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try TraceAnalysis(.file(path)).run()
    }
}

public let none: Int32 = 0
public let readOnly: Int32 = 1
public let readWrite: Int32 = 3
/// Not a protection: the page is munmap'ed.
public let unmapped: Int32 = -1
