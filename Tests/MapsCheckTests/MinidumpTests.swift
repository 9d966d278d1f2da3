// Minidumps built here byte by byte from the public format (Breakpad's
// minidump_format.h, Microsoft's MINIDUMP_HEADER and MINIDUMP_DIRECTORY):
// all little-endian,
//   header: signature 'MDMP' 0x504d444d, version 0xa793 (implementation
//           bits in the high half), stream count, directory RVA, checksum,
//           time stamp, flags (u64)
//   directory entry: stream type, data size, RVA
// `check --format minidump` must find the MD_LINUX_MAPS stream (0x47670009)
// wherever the directory puts it.

import MapsCheck
import Testing

#if canImport(Glibc)
import Glibc
#endif

private struct MinidumpBytes {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) {
        bytes += [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
    }

    /// Header, then the streams' bytes, then the directory at the end (the
    /// order Breakpad's writer does not use, so offsets are really followed).
    static func build(
        streams: [(type: UInt32, bytes: [UInt8])], version: UInt32 = 0x1234_a793, signature: UInt32 = 0x504d_444d
    ) -> [UInt8] {
        var out = MinidumpBytes()
        let headerSize: UInt32 = 32
        var offsets: [UInt32] = []
        var position = headerSize
        for stream in streams {
            offsets.append(position)
            position += UInt32(stream.bytes.count)
        }
        out.u32(signature)
        out.u32(version)
        out.u32(UInt32(streams.count))
        out.u32(position)  // directory RVA: after the streams
        out.u32(0)  // checksum
        out.u32(0x6553_f100)  // time stamp
        out.u32(0); out.u32(0)  // flags
        for stream in streams { out.bytes += stream.bytes }
        for (stream, offset) in zip(streams, offsets) {
            out.u32(stream.type)
            out.u32(UInt32(stream.bytes.count))
            out.u32(offset)
        }
        return out.bytes
    }
}

private let linuxMaps: UInt32 = 0x4767_0009
private let threadList: UInt32 = 3
private let linuxCpuInfo: UInt32 = 0x4767_0003

/// The torn text: a mapping re-reported after a merge between two reads.
private let tornMaps = Array((anonymousLine(0x7f00_0000_0000, 0x7f00_0000_1000, "r--p")
    + anonymousLine(0x7f00_0000_1000, 0x7f00_0000_2000, "---p")
    + anonymousLine(0x7f00_0000_1000, 0x7f00_0000_4000, "---p")).utf8)

@Suite struct MinidumpInput {
    @Test func theMapsStreamIsFoundAndChecked() throws {
        let dump = MinidumpBytes.build(streams: [
            (threadList, [UInt8](repeating: 0xee, count: 100)),  // binary: must be skipped, not read as text
            (linuxCpuInfo, Array("processor\t: 0\n".utf8)),
            (linuxMaps, tornMaps),
        ])
        let result = try check(bytes: dump, format: .minidump)
        #expect(result.minidumpStream == MinidumpStreamLocation(offset: 32 + 100 + 14, size: UInt64(tornMaps.count)))
        #expect(result.lines == 3)
        #expect(result.bytes == UInt64(tornMaps.count))
        #expect(result.verdict == .torn)
        #expect(result.findings.map(\.kind) == [.overlap])
        #expect(result.findings.first?.shape == .mergeBetweenReads)
        #expect(result.findings.first?.lines.map(\.number) == [2, 3])
        // The same bytes read as a plain text are binary data: the
        // version's high byte (0x12) is the first control character.
        #expect(throws: CheckError.binary(byte: 0x12, offset: 7, line: 1)) { try check(bytes: dump) }
    }

    /// Through a pipe the input cannot seek: the directory after the
    /// streams means the maps stream is behind it.
    @Test func aPipeCannotGoBackToAStreamBeforeTheDirectory() throws {
        let dump = MinidumpBytes.build(streams: [(linuxMaps, tornMaps)])
        let error = try #require(try pipeError(dump, format: .minidump))
        guard case .badMinidump(let reason) = error else { Issue.record("got \(error)"); return }
        #expect(reason.contains("give the file itself"))
    }

    /// A directory right after the header (Breakpad's own layout) streams
    /// through a pipe.
    @Test func aPipeReadsADumpWhoseStreamsFollowTheDirectory() throws {
        var out = MinidumpBytes()
        out.u32(0x504d_444d); out.u32(0xa793); out.u32(2); out.u32(32)
        out.u32(0); out.u32(0); out.u32(0); out.u32(0)
        let mapsOffset: UInt32 = 32 + 24 + 8
        out.u32(threadList); out.u32(8); out.u32(32 + 24)
        out.u32(linuxMaps); out.u32(UInt32(tornMaps.count)); out.u32(mapsOffset)
        out.bytes += [UInt8](repeating: 0, count: 8)
        out.bytes += tornMaps
        let (result, error) = try outcomeThroughPipe(out.bytes, format: .minidump)
        #expect(error == nil)
        #expect(result?.verdict == .torn)
        #expect(result?.minidumpStream?.offset == UInt64(mapsOffset))
    }

    @Test func aCleanMapsStreamHasNoEvidence() throws {
        let clean = Array((anonymousLine(0x1000, 0x2000, "r--p") + anonymousLine(0x2000, 0x3000, "rw-p")).utf8)
        let result = try check(bytes: MinidumpBytes.build(streams: [(linuxMaps, clean)]), format: .minidump)
        #expect(result.verdict == .noEvidence)
        #expect(result.mappings == 2)
    }

    @Test func noMapsStream() throws {
        let dump = MinidumpBytes.build(streams: [(threadList, [1, 2, 3, 4]), (linuxCpuInfo, [])])
        #expect(throws: CheckError.noMapsStream(streamTypes: [threadList, linuxCpuInfo])) {
            try check(bytes: dump, format: .minidump)
        }
    }

    @Test func notAMinidump() throws {
        let error = try #require(throws: CheckError.self) { try check(bytes: tornMaps, format: .minidump) }
        #expect(error == .badMinidump("the signature is 0x30306637, not 0x504d444d ('MDMP')"))
        let wrongVersion = MinidumpBytes.build(streams: [(linuxMaps, tornMaps)], version: 0x1234)
        #expect(throws: CheckError.badMinidump("version 0x1234, not 0xa793")) {
            try check(bytes: wrongVersion, format: .minidump)
        }
        #expect(throws: CheckError.badMinidump("5 bytes, shorter than a minidump header (32)")) {
            try check(bytes: [0x4d, 0x44, 0x4d, 0x50, 0], format: .minidump)
        }
    }

    @Test func aCutMinidump() throws {
        let dump = MinidumpBytes.build(streams: [(linuxMaps, tornMaps)])
        // Cut inside the directory (at the end of this layout).
        let error = try #require(throws: CheckError.self) { try check(bytes: Array(dump.dropLast(4)), format: .minidump) }
        #expect(error.description.contains("runs past the end of the file"))
        // A directory entry pointing past the end.
        var pointing = dump
        let sizeField = pointing.count - 8
        pointing[sizeField] = 0xff
        pointing[sizeField + 1] = 0xff
        let pastEnd = try #require(throws: CheckError.self) { try check(bytes: pointing, format: .minidump) }
        #expect(pastEnd.description.contains("the maps stream"))
        #expect(pastEnd.description.contains("runs past the end of the file"))
    }

    @Test func anAbsurdStreamCount() throws {
        var out = MinidumpBytes()
        out.u32(0x504d_444d); out.u32(0xa793); out.u32(0xffff_ffff); out.u32(32)
        out.u32(0); out.u32(0); out.u32(0); out.u32(0)
        #expect(throws: CheckError.badMinidump("the header claims 4294967295 streams (at most 4096 accepted)")) {
            try check(bytes: out.bytes, format: .minidump)
        }
    }
}
