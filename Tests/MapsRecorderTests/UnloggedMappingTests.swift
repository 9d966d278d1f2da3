import Foundation
import MapsTestSupport
import Testing

// The recorder must not change its own mappings while the reader may read
// them, except through the workload's logged mutations inside the arena:
// anything else is an unmodeled line in whichever snapshot catches it.
// glibc's posix_spawn did exactly that (a 36 KiB stack mapped for the
// reader's spawn, unmapped after its exec): on a loaded machine the
// parent's munmap came after the reader's first snapshots, and
// `frozenSnapshotsAreAllConsistent` saw unmodeled lines. strace (from
// tools/bootstrap.sh) follows the recorder only, so its reader reads
// untraced.

/// Memory-management calls (strace's %memory class) the recorder made
/// between its initial and its final quiescent read of the maps that do
/// not address `arena` (guard pages included), as strace printed them.
func unloggedMappingCalls(inStraceLog log: String, arena: Range<UInt64>) -> [String] {
    var calls: [String] = []
    var arenaMapped = false
    var mapsOpens = 0
    for line in log.split(separator: "\n") {
        if !arenaMapped {
            // The arena's reservation: mmap(NULL, size, PROT_NONE, ...) = start.
            if line.hasPrefix("mmap("), line.hasSuffix(" = 0x" + String(arena.lowerBound, radix: 16)) { arenaMapped = true }
            continue
        }
        if line.hasPrefix("openat("), line.contains("\"/proc/self/maps\"") {
            mapsOpens += 1
            if mapsOpens == 2 { break }  // the final quiescent read
            continue
        }
        guard mapsOpens == 1, let open = line.firstIndex(of: "(") else { continue }
        let name = line[..<open]
        guard ["mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "mlock", "munlock", "pkey_mprotect"]
            .contains(String(name))
        else { continue }
        let argument = line[line.index(after: open)...].prefix { $0 != "," && $0 != ")" }
        if argument.hasPrefix("0x"), let address = UInt64(argument.dropFirst(2), radix: 16), arena.contains(address) {
            continue
        }
        calls.append(String(line))
    }
    return calls
}

@Suite struct UnloggedMappingTests {
    @Test func theRecorderMapsNothingOutsideItsArenaWhileTheReaderRuns() throws {
        let mapsrace = try MapsraceBinary.required()
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let script = """
            set -eu
            command -v strace >/dev/null || { echo "strace is missing: run tools/bootstrap.sh" >&2; exit 3; }
            strace -qq -o calls.txt -e trace=%memory,openat '\(mapsrace)' record --reader chromium \\
                --pages 300 --snapshots 3 --seed 5 -o trace.mrtrace --json > summary.json
            """
        let run = try runProgram("/bin/sh", ["-c", script], in: directory)
        try #require(run.exitCode == 0, "script failed: \(run.standardError)")

        let trace = try LoadedTrace(path: directory + "/trace.mrtrace")
        let arena = try #require(trace.arena)
        let pageSize = try #require(trace.header?.pageSize)
        // The arena record spans the workload's pages; the reservation adds a guard page each side.
        let span = (arena.start - pageSize)..<(arena.end + pageSize)
        let log = readText(directory + "/calls.txt")
        // The window was found: the reservation, then both quiescent reads.
        #expect(log.contains(" = 0x" + String(span.lowerBound, radix: 16)))
        #expect(log.components(separatedBy: "\"/proc/self/maps\"").count >= 3)
        #expect(unloggedMappingCalls(inStraceLog: log, arena: span) == [])
    }

    @Test func theParserKeepsOnlyCallsOutsideTheArenaBetweenTheQuiescentReads() {
        let log = """
            openat(AT_FDCWD, "/proc/self/maps", O_RDONLY|O_CLOEXEC) = 3
            mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000100000
            mmap(NULL, 20480, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7f0000200000
            mmap(0x7f0000200000, 4096, PROT_NONE, MAP_SHARED|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x7f0000200000
            openat(AT_FDCWD, "/proc/self/maps", O_RDONLY|O_CLOEXEC) = 7
            mmap(NULL, 36864, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = 0x7f0000000000
            mprotect(0x7f0000201000, 4096, PROT_READ|PROT_WRITE) = 0
            munmap(0x7f0000000000, 36864) = 0
            openat(AT_FDCWD, "/proc/self/maps", O_RDONLY|O_CLOEXEC) = 6
            munmap(0x7f0000200000, 20480) = 0
            """
        #expect(
            unloggedMappingCalls(inStraceLog: log, arena: 0x7f00_0020_0000..<0x7f00_0020_5000) == [
                "mmap(NULL, 36864, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = 0x7f0000000000",
                "munmap(0x7f0000000000, 36864) = 0",
            ])
    }
}
