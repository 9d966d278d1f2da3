import MapsKernels
import Testing

@Suite struct ResultChannelTests {
    @Test func aFramedStreamComesBackWholeAndACutOneIsSaidToBeCut() {
        var bytes: [UInt8] = []
        for length in [0, 1, 2, 3, 4, 100, 1000] {
            bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            var stream = Array("firmware noise\r\n".utf8)
            stream += Array(ResultChannel.helloLine(release: "6.1.0-57-cloud-amd64", procmapQuery: false).utf8)
            stream += ResultChannel.fileFrame(name: "survey.json", bytes: bytes)
            stream += ResultChannel.fileFrame(name: "a-b-r0.mrtrace", bytes: bytes.reversed())
            stream += Array(ResultChannel.doneLine(surveyExitStatus: 0, files: 2).utf8)
            let received = ResultChannel.parse(stream)
            #expect(received.release == "6.1.0-57-cloud-amd64")
            #expect(received.procmapQuery == false)
            #expect(received.damage == nil)
            #expect(received.surveyExitStatus == 0)
            #expect(received.files.map(\.name) == ["survey.json", "a-b-r0.mrtrace"])
            #expect(received.files.first?.bytes == bytes)
            #expect(received.files.last?.bytes == Array(bytes.reversed()))

            // Cut anywhere after the hello: never a silent success.
            let helloEnd = stream.firstIndex(of: 0x0a)! + 1 + ResultChannel.helloLine(release: "6.1.0-57-cloud-amd64", procmapQuery: false).utf8.count
            for cut in stride(from: helloEnd, to: stream.count - 1, by: max(1, (stream.count - helloEnd) / 23)) {
                let partial = ResultChannel.parse(Array(stream[0..<cut]))
                #expect(partial.damage != nil && partial.surveyExitStatus == nil, "cut at \(cut) of \(stream.count)")
            }
        }
        // A flipped byte in a body is a damaged file.
        var stream = Array(ResultChannel.helloLine(release: "x", procmapQuery: true).utf8)
        let frame = ResultChannel.fileFrame(name: "f", bytes: Array("hello, guest".utf8))
        let bodyIndex = stream.count + frame.firstIndex(of: 0x0a)! + 2
        stream += frame
        stream += Array(ResultChannel.doneLine(surveyExitStatus: 0, files: 1).utf8)
        stream[bodyIndex] = stream[bodyIndex] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(ResultChannel.parse(stream).damage?.contains("damaged") == true)
        #expect(ResultChannel.parse([]).damage?.contains("never reported") == true)
    }

    @Test func namesThatLeaveTheDirectoryAreRefused() {
        #expect(ResultChannel.isSafeName("rolling-chromium-r0.mrtrace"))
        for bad in ["", ".", "..", "../x", "a/b", "a b"] { #expect(!ResultChannel.isSafeName(bad), "\(bad)") }
        var stream = Array(ResultChannel.helloLine(release: "x", procmapQuery: true).utf8)
        stream += Array("MAPSRACE-FILE .. 0 cbf29ce484222325\nMAPSRACE-END\nMAPSRACE-DONE 0 1\n".utf8)
        #expect(ResultChannel.parse(stream).damage?.contains("unusable name") == true)
    }

    @Test func lddOutputGivesEveryLibraryAndTheLoader() {
        let text = """
            \tlinux-vdso.so.1 (0x00007ffd)
            \tlibzstd.so.1 => /lib/x86_64-linux-gnu/libzstd.so.1 (0x00007f25)
            \tlibswiftCore.so => /opt/swift/usr/lib/swift/linux/libswiftCore.so (0x00007f25)
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f25)
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f25)
            \tlibmissing.so => not found
            """
        #expect(GuestImage.parseLdd(text) == [
            "/lib/x86_64-linux-gnu/libzstd.so.1", "/opt/swift/usr/lib/swift/linux/libswiftCore.so",
            "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
        ])
    }

    @Test func kernelArgumentsAreSeriesPackagesOrImages() throws {
        #expect(try KernelSource(parsing: "6.1") == .series("6.1"))
        #expect(try KernelSource(parsing: "6.12") == .series("6.12"))
        #expect(try KernelSource(parsing: "linux-image-6.1.0-57-cloud-amd64-unsigned") == .package("linux-image-6.1.0-57-cloud-amd64-unsigned"))
        #expect(try KernelSource(parsing: "./vmlinuz") == .imageFile("./vmlinuz"))
        for bad in ["six", "6", "6.x", "linux-image-$(rm)", "6..1"] {
            #expect(throws: KernelsError.self, "\(bad)") { try KernelSource(parsing: bad) }
        }
    }
}
