// Inputs that are no maps text at all: binary, endless, a huge line. Each
// must end quickly with a clear error, reading in bounded memory.

import MapsCheck
import MapsSystem
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct HostileInputs {
    @Test func binaryDataIsNamedWithItsOffsetAndLine() throws {
        var bytes = Array((anonymousLine(0x1000, 0x2000, "r--p") + anonymousLine(0x2000, 0x3000, "rw-p")).utf8)
        let offset = bytes.count + 5
        bytes += Array("00003".utf8) + [0x00, 0x01, 0x02] + Array("\n".utf8)
        #expect(throws: CheckError.binary(byte: 0, offset: UInt64(offset), line: 3)) { try check(bytes: bytes) }
        #expect(CheckError.binary(byte: 0, offset: UInt64(offset), line: 3).description
            == "binary data, not a maps text: byte 0x00 at offset \(offset) (line 3).")
    }

    /// /dev/zero never ends: the first NUL stops it.
    @Test func devZeroStopsAtItsFirstByte() throws {
        #expect(throws: CheckError.binary(byte: 0, offset: 0, line: 1)) {
            try checkMaps(ByteInput(path: "/dev/zero"), format: .linux)
        }
        #expect(throws: CheckError.binary(byte: 0, offset: 0, line: 1)) {
            try checkMaps(ByteInput(path: "/dev/zero"), format: .smaps)
        }
    }

    @Test func aHugeLine() throws {
        let huge = [UInt8](repeating: UInt8(ascii: "7"), count: CheckLimits.standard.maxLineBytes + 1) + [10]
        #expect(throws: CheckError.lineTooLong(line: 2, limit: CheckLimits.standard.maxLineBytes)) {
            try check(bytes: Array(anonymousLine(0x1000, 0x2000, "r--p").utf8) + huge)
        }
        // Without a newline at all, through a pipe, from the first byte.
        let endlessLine = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        #expect(try pipeError(endlessLine) == .lineTooLong(line: 1, limit: CheckLimits.standard.maxLineBytes))
    }

    /// Valid lines without end: the input size limit stops them. The
    /// writer offers 8 MiB; the reader stops after 1 MiB.
    @Test func endlessValidTextStopsAtTheSizeLimit() throws {
        var limits = CheckLimits.standard
        limits.maxInputBytes = 1 << 20
        let line = Array(anonymousLine(0x1000, 0x2000, "r--p").utf8)
        var text: [UInt8] = []
        text.reserveCapacity(8 << 20)
        while text.count < 8 << 20 { text += line }
        #expect(try pipeError(text, limits: limits) == .inputTooLarge(limit: 1 << 20))
    }

    @Test func aDirectoryAndAMissingFile() throws {
        #expect(throws: CheckError.unreadable(.noSuchFileOrDirectory)) {
            try checkMaps(ByteInput(path: "/nonexistent/maps"), format: .linux)
        }
        #expect(throws: CheckError.unreadable(.isDirectory)) { try checkMaps(ByteInput(path: "/tmp"), format: .linux) }
    }

    /// Text that is not maps text stops at its first line.
    @Test func textInAnotherFormat() throws {
        let error = try #require(throws: CheckError.self) { try check("hello world\n") }
        #expect(error.description == "not a Linux maps text: line 1, column 1: expected start address in hex.")
    }
}
