import Testing
@testable import MapsModel

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a file, read to end of file in as many read(2) calls as it takes.
func contentsOfFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let returned = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if returned < 0 { return nil }
        if returned == 0 { return contents }
        contents += chunk[..<returned]
    }
}

/// The text's lines without their newlines (a last unterminated line included).
private func splitLines(_ text: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines
}

private func linuxParseError(_ text: String) -> MapsParseError? {
    do {
        _ = try MapsParser.parseLinux(Array(text.utf8))
        return nil
    } catch {
        return error
    }
}

private func freeBSDParseError(_ text: String) -> MapsParseError? {
    do {
        _ = try MapsParser.parseFreeBSD(Array(text.utf8))
        return nil
    } catch {
        return error
    }
}

@Suite struct LinuxMapsParserTests {
    @Test func ownMapsRoundTripByteForByte() throws {
        let text = try #require(contentsOfFile("/proc/self/maps"))
        let maps = try MapsParser.parseLinux(text)
        let lines = splitLines(text)
        #expect(maps.lines.count == lines.count)
        #expect(maps.lines.count > 10)
        for (parsed, original) in zip(maps.lines, lines) {
            #expect(Array((parsed.description + "\n").utf8) == Array(original) + [UInt8(ascii: "\n")],
                    "\(String(decoding: original, as: UTF8.self))")
            #expect(parsed.start < parsed.end)
        }
        #expect(maps.byteOffsets == lines.map(\.startIndex))
        // Every process has a stack and a vDSO; their names come through verbatim.
        #expect(maps.lines.contains { $0.path == "[stack]" })
        #expect(maps.lines.contains { $0.path == "[vdso]" })
    }

    /// Lines as the kernel prints them: a name starts at column 74.
    static let sample = """
        00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/dbus-daemon
        00651000-00652000 rw-p 00051000 08:02 173521                             /usr/bin/dbus-daemon
        00e03000-00e24000 rw-p 00000000 00:00 0                                  [heap]
        7f3a213fe000-7f3a213ff000 ---p 00000000 00:00 0 
        7f3a213ff000-7f3a21401000 rw-s 00000000 00:05 2049                       /memfd:arena (deleted)
        7f3a21401000-7f3a21402000 rw-p 00000000 00:00 0                          [anon:seed arena]
        7f3a21402000-7f3a21403000 r--p 00002000 fe:00 4211                       /home/me/my maps/lib with spaces.so
        7f3a21403000-7f3a21404000 r-xp 00000000 fe:00 18446744073709551615       /opt/big inode
        7ffc8b7c9000-7ffc8b7ea000 rw-p 00000000 00:00 0                          [stack]
        7ffc8b7f6000-7ffc8b7fa000 r--p 00000000 00:00 0                          [vvar]
        7ffc8b7fa000-7ffc8b7fc000 r-xp 00000000 00:00 0                          [vdso]
        ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]

        """

    @Test func specialNamesAndFields() throws {
        let text = Array(Self.sample.utf8)
        let maps = try MapsParser.parseLinux(text)
        #expect(maps.lines.map(\.path) == [
            "/usr/bin/dbus-daemon", "/usr/bin/dbus-daemon", "[heap]", "", "/memfd:arena (deleted)",
            "[anon:seed arena]", "/home/me/my maps/lib with spaces.so", "/opt/big inode",
            "[stack]", "[vvar]", "[vdso]", "[vsyscall]",
        ])
        let daemon = maps.lines[1]
        #expect(daemon.start == 0x651000 && daemon.end == 0x652000 && daemon.length == 0x1000)
        #expect(daemon.permissions == Permissions(read: true, write: true, execute: false, shared: false))
        #expect(daemon.offset == 0x51000 && daemon.deviceMajor == 8 && daemon.deviceMinor == 2)
        #expect(daemon.inode == 173521)
        let memfd = maps.lines[4]
        #expect(memfd.permissions.shared && memfd.permissions.write && memfd.deviceMinor == 5 && memfd.inode == 2049)
        #expect(maps.lines[6].deviceMajor == 0xfe)
        #expect(maps.lines[7].inode == UInt64.max)
        let vsyscall = maps.lines[11]
        #expect(vsyscall.start == 0xffff_ffff_ff60_0000 && vsyscall.end == 0xffff_ffff_ff60_1000)
        #expect(vsyscall.permissions.description == "--xp")
        // The kernel's layout comes back exactly, padding and trailing space included.
        #expect(maps.lines.map { $0.description + "\n" }.joined() == Self.sample)
        #expect(maps.byteOffsets == splitLines(text).map(\.startIndex))
    }

    @Test func lastLineWithoutNewline() throws {
        let text = "00400000-00401000 r--p 00000000 00:00 0 \n00401000-00403000 rw-p 00000000 00:00 0          [heap]"
        let maps = try MapsParser.parseLinux(Array(text.utf8))
        #expect(maps.lines.count == 2)
        #expect(maps.lines.last?.path == "[heap]")
        #expect(maps.lines.last?.end == 0x403000)
        #expect(maps.byteOffsets == [0, 41])
    }

    @Test func emptyTextHasNoLines() throws {
        #expect(try MapsParser.parseLinux([]).lines.isEmpty)
    }

    static let good = "00400000-00401000 r--p 00000000 00:00 0 \n"

    @Test(arguments: [
        // bad hex inside the end address: the field stops at the 'g' (the value read so far
        // is above the start: MapsParser checks start < end before the field is complete)
        ("00400000-ffffffg0 r--p 00000000 00:00 0 \n", 16),
        ("zz400000-00401000 r--p 00000000 00:00 0 \n", 1),
        // no '-' between the addresses
        ("00400000 00401000 r--p 00000000 00:00 0 \n", 9),
        // no inode: the line ends where the space before it belongs
        ("00400000-00452000 r-xp 00000000 08:02\n", 38),
        // no device minor
        ("00400000-00452000 r-xp 00000000 08: 0\n", 36),
        // start not below end
        ("00452000-00400000 r-xp 00000000 08:02 0\n", 1),
        ("00400000-00400000 r-xp 00000000 08:02 0\n", 1),
        // bad permission characters
        ("00400000-00452000 rwzp 00000000 08:02 0\n", 21),
        ("00400000-00452000 rw-q 00000000 08:02 0\n", 22),
        ("00400000-00452000 rw 00000000 08:02 0\n", 21),
        // overlong numbers: a 17th hex digit, a 9-digit device major, an inode of 2^64
        ("000000000400000001-00452000 r-xp 00000000 08:02 0\n", 17),
        ("00400000-00452000 r-xp 00000000 100000008:02 0\n", 41),
        ("00400000-00452000 r-xp 00000000 08:02 18446744073709551616\n", 58),
        // an empty line
        ("\n", 1),
    ])
    func errorsPointAtLineAndColumn(_ bad: String, _ column: Int) throws {
        // The same fault as the first line, and after two good lines.
        for (prefix, line) in [("", 1), (Self.good + Self.good, 3)] {
            let error = try #require(linuxParseError(prefix + bad), "parsed: \(bad)")
            #expect(error.line == line && error.column == column, "\(error) for \(bad)")
            #expect(error.description.hasPrefix("line \(line), column \(column): "))
        }
    }
}

@Suite struct FreeBSDProcstatParserTests {
    /// `procstat vm PID` output as FreeBSD 14 prints it for the seed's program.
    static let sample = """
          PID              START                END PRT  RES PRES REF SHD FLAG  TP PATH
         4242           0x200000           0x201000 r--     1    3   2   1 CN--- vn /home/me/rolling-mmap
         4242           0x210000           0x211000 r-x     1    3   2   1 CN--- vn /home/me/rolling-mmap
         4242           0x220000           0x221000 rw-     1    0   1   0 C---- vn /home/me/rolling-mmap
         4242           0x221000           0x223000 rw-     2    2   1   0 ----- df 
         4242        0x825f27000        0x825f28000 rw-     1    1   1   0 ----- df 
         4242        0x825f28000        0x825f29000 rw-     0    0   1   0 ----- df 
         4242        0x825f29000        0x825f2a000 r--     0    0   1   0 ----- df 
         4242        0x825f2a000        0x825f2b000 ---     0    0   0   0 ----- -- 
         4242        0x835d0f000        0x835d10000 rwx     0    0   1   0 ----- df 
         4242        0x835d10000        0x835d12000 rw-     0    0   1   0 ----- df 
         4242        0x8364f0000        0x836510000 r--     8   40  12   0 CN--- vn /usr/home/me/dir with space/libc.so.7
         4242     0x7fffffffe000     0x800000000000 rw-     1    1   1   0 ---D- df 

        """

    @Test func headingSkippedAndFieldsKept() throws {
        let text = Array(Self.sample.utf8)
        let maps = try MapsParser.parseFreeBSD(text)
        #expect(maps.lines.count == 12)
        #expect(maps.lines.first?.start == 0x200000 && maps.lines.first?.end == 0x201000)
        #expect(maps.lines.first?.path == "/home/me/rolling-mmap")
        #expect(maps.lines.map(\.permissions.description) == [
            "r--p", "r-xp", "rw-p", "rw-p", "rw-p", "rw-p", "r--p", "---p", "rwxp", "rw-p", "r--p", "rw-p",
        ])
        #expect(maps.lines[3].path == "")
        #expect(maps.lines[10].path == "/usr/home/me/dir with space/libc.so.7")
        #expect(maps.lines[11].start == 0x7fff_ffff_e000 && maps.lines[11].end == 0x8000_0000_0000)
        // Each line's offset is where it starts in the text; the heading has none.
        #expect(maps.byteOffsets == Array(splitLines(text).map(\.startIndex).dropFirst()))
    }

    @Test func lastLineWithoutNewline() throws {
        let text = "  PID START END PRT\n 1 0x1000 0x3000 rw- 2 2 1 0 ----- df"
        let maps = try MapsParser.parseFreeBSD(Array(text.utf8))
        #expect(maps.lines.map(\.start) == [0x1000])
        #expect(maps.lines.first?.length == 0x2000)
    }

    @Test(arguments: [
        (" 1 0x1000 0x3g00 rw- 2 2 1 0 ----- df\n", 14),
        (" 1 0x3000 0x1000 rw- 2 2 1 0 ----- df\n", 4),
        (" 1 0x1000 0x3000\n", 1),
        (" 1 0x1000 0x3000 r\n", 18),
    ])
    func errorsPointAtLineAndColumn(_ bad: String, _ column: Int) throws {
        let text = "  PID START END PRT RES PRES REF SHD FLAG TP PATH\n" + bad
        let error = try #require(freeBSDParseError(text), "parsed: \(bad)")
        #expect(error.line == 2 && error.column == column, "\(error)")
    }
}
