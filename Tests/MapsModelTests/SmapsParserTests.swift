import Foundation
import MapsModel
import Testing

@Suite("smaps mapping headers")
struct SmapsParserTests {
    static let maps = """
        555555554000-555555556000 r--p 00000000 fe:00 1234                       /usr/bin/sample
        7f0000000000-7f0000003000 rw-p 00000000 00:00 0 
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]

        """

    static func fields(_ size: Int) -> String {
        """
        Size:               \(size) kB
        KernelPageSize:        4 kB
        Rss:                   0 kB
        Anonymous:             0 kB
        AnonHugePages:         0 kB
        FilePmdMapped:         0 kB
        THPeligible:           0
        VmFlags: rd mr mw me ac 

        """
    }

    @Test func headersAreTheMapsLinesAtTheirOwnOffsets() throws {
        let lines = Self.maps.split(separator: "\n").map(String.init)
        var smaps = ""
        var offsets: [Int] = []
        for (index, line) in lines.enumerated() {
            offsets.append(smaps.utf8.count)
            smaps += line + "\n" + Self.fields(8 * (index + 1))
        }
        let parsed = try MapsParser.parseSmapsHeaders(Array(smaps.utf8))
        let expected = try MapsParser.parseLinux(Array(Self.maps.utf8))
        #expect(parsed.lines == expected.lines)
        #expect(parsed.byteOffsets == offsets)
    }

    @Test func aBrokenHeaderIsReportedAtItsLineOfTheWholeText() throws {
        let smaps = "7f0000000000-7f0000001000 r--p 00000000 00:00 0 \n" + Self.fields(4)
            + "7f0000001000-7f000000g000 r--p 00000000 00:00 0 \n"
        #expect(throws: MapsParseError(line: 10, column: 22, reason: "expected a space before the permissions")) {
            try MapsParser.parseSmapsHeaders(Array(smaps.utf8))
        }
    }

    @Test func theRealSmapsOfThisProcessParses() throws {
        // Read to end of file: procfs reports size 0, so read until read(2) returns 0.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        let text = Array(try #require(try handle.readToEnd()))
        let parsed = try MapsParser.parseSmapsHeaders(text)
        let vmFlags = String(decoding: text, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("VmFlags:") }
        #expect(parsed.lines.count == vmFlags.count)
        #expect(parsed.lines.count > 5)
    }
}
