// `record` options and help texts: --max-attempts, the PROCMAP_QUERY check
// before anything is mapped.

import Foundation
import MapsTrace
import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ReaderCheckedBeforeMapping {
    @Test func aKernelWithoutProcmapQueryIsAUsageError() {
        let unsupported = RecordingError.readerFailed(ProcmapQueryWalk.unsupportedMessage)
        let checked = ReaderStrategy.beforeMapping(procmapQueryFailure: unsupported)
        guard case .invalidReaderStrategy("procmap-query", _) = checked else {
            Issue.record("expected invalidReaderStrategy, got \(checked)")
            return
        }
        #expect(
            checked.description
                == "invalid reader strategy 'procmap-query': \(ProcmapQueryWalk.unsupportedMessage); choose another --reader")
    }

    @Test func otherFailuresKeepTheirExitCodes() {
        let unreadable = RecordingError.mapsNotReadable(path: "/proc/1/maps", errno: EACCES)
        #expect(ReaderStrategy.beforeMapping(procmapQueryFailure: unreadable) == unreadable)
        let ioctl = RecordingError.systemCallFailed("ioctl(PROCMAP_QUERY) on /proc/1/maps", errno: EIO)
        #expect(ReaderStrategy.beforeMapping(procmapQueryFailure: ioctl) == ioctl)
    }

    /// The check asks the real kernel: the maps of a process that is gone
    /// cannot be opened (exit 21); a strategy that needs no ioctl asks nothing.
    @Test func theCheckQueriesTheTargetsMaps() throws {
        var child: pid_t = 0
        let words: [String] = ["/bin/true"]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        try #require(posix_spawn(&child, "/bin/true", nil, nil, argv, nil) == 0)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let reaped = ReaderStrategy.procmapQuery.unusableReason(pid: child)
        #expect(reaped == .mapsNotReadable(path: "/proc/\(child)/maps", errno: ENOENT))
        for strategy in [ReaderStrategy.chromium, .smaps, .frozen, .retryStable(maxAttempts: 3)] {
            #expect(strategy.unusableReason(pid: child) == nil)
        }
    }

    @Test func procmapQueryRecordsOrIsRefusedBeforeMapping() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(
            ["record", "--reader", "procmap-query", "--pages", "64", "--snapshots", "1", "--seed", "1", "-o", "t.mrtrace"],
            in: directory)
        if ProcmapQueryWalk.unsupportedReason(pid: getpid()) == nil {
            #expect(run.exitCode == 0, "\(run.standardError)")
        } else {
            // Refused before the trace file was even created.
            #expect(run.exitCode == 64)
            #expect(run.standardError.contains("PROCMAP_QUERY is not supported"))
            #expect(access(directory + "/t.mrtrace", F_OK) != 0)
        }
    }
}

/// The help line of `name` in `help`: a line that starts (after spaces) with it.
func helpLine(_ name: String, in help: String) -> String? {
    help.split(separator: "\n").map(String.init).first { line in
        line.drop(while: { $0 == " " }).hasPrefix(name + " ")
    }
}

@Suite(.serialized) struct RecordOptionsAndHelp {
    @Test func everyCatalogSpellingParses() throws {
        #expect(ReaderStrategy.names.count == ReaderStrategy.catalog.count)
        for spelling in ReaderStrategy.names {
            let example = spelling.replacingPlaceholders()
            #expect(throws: Never.self, "\(spelling) as \(example)") { try ReaderStrategy(parsing: example) }
        }
    }

    @Test func catalogHelpHasOneEntryPerStrategyWithinTheWidth() {
        let help = ReaderStrategy.catalogHelp()
        for line in help.split(separator: "\n") { #expect(line.count <= 70, "\(line)") }
        for name in ReaderStrategy.names { #expect(helpLine(name, in: help) != nil, "\(name)") }
    }

    @Test func recordHelpTeachesEveryReaderAndWorkload() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let record = try runMapsrace(["record", "--help"], in: directory)
        #expect(record.exitCode == 0)
        for name in ReaderStrategy.names {
            let line = try #require(helpLine(name, in: record.standardOutput), "record --help lacks \(name)")
            #expect(line.count > name.count + 20, "\(name) is listed without saying what it does")
        }
        for workload in Workload.allCases {
            let line = try #require(
                helpLine(workload.rawValue, in: record.standardOutput), "record --help lacks \(workload)")
            #expect(line.count > workload.rawValue.count + 20, "\(workload) is listed without saying what it does")
        }
        #expect(record.standardOutput.contains("--max-attempts"))
        let reader = try runMapsrace(["_reader", "--help"], in: directory)
        #expect(reader.exitCode == 0)
        for name in ReaderStrategy.names {
            #expect(helpLine(name, in: reader.standardOutput) != nil, "_reader --help lacks \(name)")
        }
    }

    @Test(arguments: [
        (["--reader", "chromium", "--max-attempts", "3"], "--max-attempts applies only to --reader retry-stable"),
        (["--reader", "retry-stable", "--max-attempts", "1"], "--max-attempts must be from 2 to 1000 (got 1)"),
        (["--reader", "retry-stable", "--max-attempts", "1001"], "--max-attempts must be from 2 to 1000 (got 1001)"),
        (["--reader", "retry-stable:4", "--max-attempts", "3"], "disagree"),
    ])
    func maxAttemptsIsValidated(_ arguments: [String], _ message: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(["record", "--pages", "64", "--snapshots", "1", "-o", "t.mrtrace"] + arguments, in: directory)
        #expect(run.exitCode == 64)
        #expect(run.standardError.contains(message), "\(run.standardError)")
        #expect(access(directory + "/t.mrtrace", F_OK) != 0)
    }

    @Test func maxAttemptsLimitsEveryResult() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let attempts = 3
        let run = try runMapsrace(
            [
                "record", "--reader", "retry-stable", "--max-attempts", "\(attempts)", "--pages", "2000",
                "--snapshots", "4", "--seed", "5", "-o", "t.mrtrace",
            ], in: directory)
        try #require(run.exitCode == 0, "\(run.standardError)")
        let trace = try LoadedTrace(path: directory + "/t.mrtrace")
        #expect(trace.header?.readerParameters[parameter: "max_attempts"] == "\(attempts)")
        #expect(retryResults(trace.snapshotEnds, maxAttempts: attempts) == 4)
    }
}

/// The results of a `retry-stable` recording: groups of attempts, each
/// ended by its accepted attempt or after `maxAttempts`; nil if the last
/// group is unfinished.
func retryResults(_ ends: [SnapshotEnd], maxAttempts: Int) -> Int? {
    var attemptsInGroup = 0
    var results = 0
    for end in ends {
        attemptsInGroup += 1
        if end.flags.contains(.accepted) || attemptsInGroup == maxAttempts {
            results += 1
            attemptsInGroup = 0
        }
    }
    return attemptsInGroup == 0 ? results : nil
}

extension String {
    /// A parseable example of a catalog spelling: `read:SIZE` as
    /// `read:4096`, `retry-stable[:N]` as `retry-stable:5`.
    func replacingPlaceholders() -> String {
        var text = self
        if let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") {
            text.replaceSubrange(open...close, with: text[text.index(after: open)..<close])
        }
        if text.hasSuffix(":SIZE") { text = String(text.dropLast(4)) + "4096" }
        if text.hasSuffix(":N") { text = String(text.dropLast(1)) + "5" }
        return text
    }
}
