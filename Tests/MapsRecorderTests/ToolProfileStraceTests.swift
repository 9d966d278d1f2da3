import Foundation
import MapsRecorder
import MapsTestSupport
import Testing

// Each tool profile's read requests, as strace sees them, against the same
// requests from the tool's read loop written in C (tools/reader-loops/), or
// from the real thing where it is on this machine: libstdc++'s ifstream for
// cpptrace, CPython's readall for psutil (psutil's own
// `open(path, 'rb', buffering=32768).read()`). Both read the maps of one
// process that holds 3000 lines and does nothing else, so the kernel returns
// the same bytes to the same requests: one request of another size and the
// sequences part. strace, cc and g++ come from tools/bootstrap.sh.

/// Where the C and C++ sources are: tools/reader-loops/ of this checkout.
private let sourceDirectory: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path + "/tools/reader-loops"
}()

/// One traced call on the maps file: `read 4096` or `pread64 4095`.
typealias TracedRequest = String

/// The read/pread64 requests made on every descriptor opened on a path
/// under `/proc/<target>/` ending in `maps`, in order, from an strace log.
func mapsRequests(inStraceLog log: String, target: String) -> [TracedRequest] {
    var requests: [TracedRequest] = []
    var current: String?
    for rawLine in log.split(separator: "\n") {
        // `strace -f` puts the pid first.
        var line = Substring(rawLine)
        if let space = line.firstIndex(of: " "), line[..<space].allSatisfy(\.isNumber) {
            line = line[line.index(after: space)...].drop { $0 == " " }
        }
        if line.hasPrefix("openat("), line.contains("\"/proc/\(target)/"), line.contains("maps\""),
            let equals = line.range(of: ") = ", options: .backwards)
        {
            current = String(line[equals.upperBound...])
            continue
        }
        guard let descriptor = current else { continue }
        if line.hasPrefix("close(\(descriptor))") {
            // Later calls on that number are another file's.
            current = nil
            continue
        }
        for call in ["read", "pread64"] where line.hasPrefix("\(call)(\(descriptor), ") {
            guard let end = line.range(of: ") ", options: .backwards) ?? line.range(of: ")", options: .backwards) else { continue }
            let arguments = line[..<end.lowerBound].components(separatedBy: ", ")
            // read(fd, buf, count); pread64(fd, buf, count, offset)
            let count = call == "read" ? arguments[arguments.count - 1] : arguments[arguments.count - 2]
            requests.append("\(call) \(count)")
        }
    }
    return requests
}

@Suite("Tool profiles: request sizes equal strace of the tool's own read loop", .serialized)
struct ToolProfileStraceTests {
    @Test(arguments: ToolProfile.allCases)
    func requestSizesMatchTheToolsLoop(profile: ToolProfile) throws {
        let mapsrace = try MapsraceBinary.required()
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let tool = profile.rawValue
        let trace = "strace -qq -f -s 0 -e trace=openat,read,pread64,close"
        let path = profile.procfsRelativePath.pidTwice ? "/proc/$T/task/$T/maps" : "/proc/$T/maps"
        let reference: String
        switch profile {
        case .cpptrace:
            reference = "g++ -O1 -o cif '\(sourceDirectory)/cpptrace-ifstream.cpp' && \(trace) -o tool.txt ./cif \(path)"
        case .psutil:
            reference = "\(trace) -o tool.txt python3 -c \"open('/proc/$T/smaps', 'rb', buffering=32768).read()\""
        default:
            reference = "\(trace) -o tool.txt ./reader-loops \(tool) \(path)"
        }
        let script = """
            set -eu
            for tool in strace cc g++ python3; do
                command -v $tool >/dev/null || { echo "$tool is missing: run tools/bootstrap.sh" >&2; exit 3; }
            done
            cc -O1 -o reader-loops '\(sourceDirectory)/reader-loops.c'
            ./reader-loops hold 3000 > hold.out &
            T=$!
            trap 'kill $T 2>/dev/null || true' EXIT
            for i in $(seq 100); do grep -q ready hold.out && break; sleep 0.05; done
            echo $T > target
            \(reference)
            \(trace) -o reader.txt '\(mapsrace)' _reader --pid $T --reader \(tool) --snapshots 1 \\
                --log-fd 5 --ready-fd 6 --buffer-bytes 67108864 --populate-bytes 1048576 5>log 6>ready
            """
        let run = try runProgram("/bin/sh", ["-c", script], in: directory)
        try #require(run.exitCode == 0, "script failed: \(run.standardError)")

        let target = readText(directory + "/target").trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = mapsRequests(inStraceLog: readText(directory + "/tool.txt"), target: target)
        let recorded = mapsRequests(inStraceLog: readText(directory + "/reader.txt"), target: target)
        // 3000 lines are far more than one read: every profile needs several.
        #expect(expected.count > 3)
        let firstDifference = recorded.indices.first { $0 >= expected.count || recorded[$0] != expected[$0] }
            ?? (recorded.count == expected.count ? nil : min(recorded.count, expected.count))
        #expect(
            firstDifference == nil,
            "\(tool): \(recorded.count) requests vs the tool's \(expected.count); from request \(firstDifference ?? 0): reader \(recorded.dropFirst(firstDifference ?? 0).prefix(4)), tool \(expected.dropFirst(firstDifference ?? 0).prefix(4))")
    }

    @Test func theParserFindsRequestsOnTheMapsDescriptorOnly() {
        let log = """
            123 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
            123 read(3, ""..., 832) = 832
            123 close(3) = 0
            123 openat(AT_FDCWD, "/proc/77/task/77/maps", O_RDONLY) = 4
            123 read(4, ""..., 8192) = 4051
            123 pread64(4, ""..., 4095, 4051) = 40
            123 read(4, "", 8192) = 0
            123 close(4) = 0
            123 read(4, ""..., 99) = 99
            """
        #expect(mapsRequests(inStraceLog: log, target: "77") == ["read 8192", "pread64 4095", "read 8192"])
    }
}
