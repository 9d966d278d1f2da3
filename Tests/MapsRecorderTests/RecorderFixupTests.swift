// Follow-ups on the recorder: mremap through its CProcfs shim, mutation
// failures named by their syscall, the --max-attempts option and the help
// texts, the PROCMAP_QUERY check before anything is mapped, and the reader's
// byte buffer sized per strategy with bufferFull snapshots reported.

import Foundation
import MapsTrace
import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

/// A private anonymous PROT_NONE mapping of `pages` pages, unmapped at the end.
private final class ScratchMapping {
    let start: UnsafeMutableRawPointer
    let length: Int

    init(pages: Int) throws {
        length = pages * MachineLimits.pageSize
        let address = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        start = try #require(address == MAP_FAILED ? nil : address, "mmap of \(pages) scratch pages")
    }

    func page(_ index: Int) -> UnsafeMutableRawPointer { start + index * MachineLimits.pageSize }

    deinit { munmap(start, length) }
}

@Suite struct MutationLogMremap {
    /// MREMAP_FIXED moves the page to exactly the fifth argument: the shim
    /// must hand it to the kernel (a dropped argument would move it elsewhere
    /// or fail with EINVAL).
    @Test func aFixedMoveLandsAtTheNewAddress() throws {
        let scratch = try ScratchMapping(pages: 4)
        let log = try MutationLog(capacity: 1, logging: true)
        let moved = log.remap(
            scratch.page(0), MachineLimits.pageSize, to: MachineLimits.pageSize, flags: mremapMayMove | mremapFixed,
            newAddress: scratch.page(2))
        #expect(moved)
        #expect(log.failure == nil)
        let record = try #require(log.records(threadID: 0).first)
        #expect(record.kind == .mremap)
        #expect(record.result == Int64(Int(bitPattern: scratch.page(2))))
        #expect(record.newAddress == UInt64(UInt(bitPattern: scratch.page(2))))
        #expect(record.errno == 0)
    }

    @Test func aRefusedMremapIsTheFailureWithItsKindAndLength() throws {
        let scratch = try ScratchMapping(pages: 2)
        let log = try MutationLog(capacity: 2, logging: true)
        // An unaligned old address: EINVAL, whatever the kernel.
        let misaligned = scratch.page(0) + 1
        #expect(!log.remap(misaligned, MachineLimits.pageSize, to: 2 * MachineLimits.pageSize, flags: 0))
        let failure = try #require(log.failure)
        #expect(failure.kind == .mremap)
        #expect(failure.sequence == 0)
        #expect(failure.address == UInt64(UInt(bitPattern: misaligned)))
        #expect(failure.length == UInt64(MachineLimits.pageSize))
        #expect(failure.errno == EINVAL)
        // A later success does not replace the first failure.
        #expect(log.protect(scratch.page(1), MachineLimits.pageSize, PROT_READ))
        #expect(log.failure == failure)
    }
}

@Suite struct MutationFailureMessage {
    @Test func namesTheSyscallAddressAndLength() {
        let error = RecordingError.mutationFailed(
            sequence: 17, kind: .mremap, address: 0x7f00_0000_3000, length: 12288, errno: EINVAL,
            trace: "out.mrtrace")
        #expect(
            error.description
                == "mutation 17 (mremap of 0x7f0000003000, 12288 bytes) failed: \(errorText(EINVAL)) (errno 22); "
                + "the trace up to it was written to out.mrtrace")
    }

    @Test(arguments: MutationKind.allCases)
    func everyKindIsNamedAsItsSyscall(_ kind: MutationKind) {
        let error = RecordingError.mutationFailed(
            sequence: 0, kind: kind, address: 0x1000, length: 4096, errno: ENOMEM, trace: nil)
        #expect(error.description.hasPrefix("mutation 0 (\(kind.description) of 0x1000, 4096 bytes) failed: "))
        #expect(error.description.hasSuffix("; no trace was written"))
    }
}

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
private func helpLine(_ name: String, in help: String) -> String? {
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
private func retryResults(_ ends: [SnapshotEnd], maxAttempts: Int) -> Int? {
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
    fileprivate func replacingPlaceholders() -> String {
        var text = self
        if let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") {
            text.replaceSubrange(open...close, with: text[text.index(after: open)..<close])
        }
        if text.hasSuffix(":SIZE") { text = String(text.dropLast(4)) + "4096" }
        if text.hasSuffix(":N") { text = String(text.dropLast(1)) + "5" }
        return text
    }
}

@Suite struct ReaderBufferSizing {
    let limit = 4 << 30

    @Test func retryStableFaultsInTwoAttemptsAndReservesEvery() {
        let plan = ReaderStrategy.retryStable(maxAttempts: 10).bufferPlan(
            snapshotBytes: 4_000_000, snapshots: 20, limit: limit)
        #expect(plan.capacityBytes >= 10 * 20 * 4_000_000)
        #expect(plan.populatedBytes >= 2 * 20 * 4_000_000)
        #expect(plan.populatedBytes < 3 * 20 * 4_000_000)
    }

    @Test func otherReadersFaultInOneTextPerSnapshotAndReserveTwice() {
        for strategy in [ReaderStrategy.chromium, .pmap, .cat, .smaps, .frozen, .procmapQuery] {
            let plan = strategy.bufferPlan(snapshotBytes: 3_000_000, snapshots: 20, limit: limit)
            #expect(plan.populatedBytes >= 20 * 3_000_000, "\(strategy)")
            #expect(plan.populatedBytes <= 20 * 3_000_000 * 3 / 2, "\(strategy)")
            #expect(plan.capacityBytes >= 2 * plan.populatedBytes - 2 * strategy.largestRequestBytes, "\(strategy)")
        }
    }

    /// A default smaps recording (65000 lines of ~800 bytes, 20 snapshots)
    /// is about 1.3 GB: more than the old 512 MiB cap, within the new one.
    @Test func aDefaultSmapsRecordingFits() {
        let snapshotBytes = 65_002 * 800 + (200 << 10)
        let plan = ReaderStrategy.smaps.bufferPlan(snapshotBytes: snapshotBytes, snapshots: 20, limit: limit)
        #expect(plan.populatedBytes > 512 << 20)
        #expect(plan.populatedBytes >= 20 * snapshotBytes)
        #expect(plan.capacityBytes <= limit)
    }

    @Test func everyReadHasRoomForItsLargestRequest() {
        // A tiny maps text and 4 MiB requests: the buffer still takes them.
        let plan = ReaderStrategy.read(bytes: 4 << 20).bufferPlan(snapshotBytes: 20_000, snapshots: 2, limit: limit)
        #expect(plan.populatedBytes >= 2 * 20_000 + (4 << 20))
    }

    @Test func theLimitHoldsAndNothingOverflows() {
        for strategy in [ReaderStrategy.chromium, .retryStable(maxAttempts: 1000)] {
            let plan = strategy.bufferPlan(snapshotBytes: Int.max / 3, snapshots: 100_000, limit: 1 << 30)
            #expect(plan.capacityBytes == 1 << 30)
            #expect(plan.populatedBytes == 1 << 30)
        }
        let small = ReaderStrategy.chromium.bufferPlan(snapshotBytes: 100, snapshots: 1, limit: limit)
        #expect(small.capacityBytes == ReaderBufferPlan.minimumCapacityBytes)
    }

    /// Only the populated prefix of a reader region is resident (mincore).
    @Test func onlyThePopulatedPartIsFaultedIn() throws {
        let page = MachineLimits.pageSize
        let region = try PreallocatedRegion(byteCount: 256 * page, populatedBytes: 64 * page, purpose: "a test")
        var residency = [UInt8](repeating: 0, count: 256)
        try #require(mincore(region.bytes.baseAddress, region.bytes.count, &residency) == 0)
        let resident = residency.map { $0 & 1 == 1 }
        #expect(resident[0..<64].allSatisfy { $0 })
        #expect(resident[64...].allSatisfy { !$0 })
    }
}


/// The integer value of `"key": N` in a JSON object printed by `record --json`.
private func jsonInteger(_ key: String, in text: String) -> Int? {
    guard let range = text.range(of: "\"\(key)\": ") else { return nil }
    return Int(text[range.upperBound...].prefix(while: { $0.isNumber }))
}

@Suite(.serialized) struct BufferFullRecordings {
    static let arguments = [
        "record", "--pages", "300", "--snapshots", "20", "--seed", "3", "-o", "t.mrtrace", "--json",
    ]

    @Test func aFullBufferIsCountedWarnedAndInTheTrace() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Small enough that 20 snapshots overflow it even when the arena has
        // merged down to a few lines (a snapshot is then ~5 KB), large enough
        // for the first (~20 KB at 300 pages).
        let bufferBytes = 64 << 10
        let run = try runMapsrace(
            Self.arguments, in: directory,
            environment: ["\(ReaderProcessConfiguration.testBufferBytesVariable)=\(bufferBytes)"])
        try #require(run.exitCode == 0, "\(run.standardError)")
        let snapshots = try #require(jsonInteger("snapshots", in: run.standardOutput))
        #expect(snapshots >= 1 && snapshots < 20)
        #expect(jsonInteger("buffer_full_snapshots", in: run.standardOutput) == 1)
        #expect(jsonInteger("reader_buffer_bytes", in: run.standardOutput) == bufferBytes)
        #expect(run.standardError.contains("mapsrace: warning: the reader's buffer"))
        #expect(run.standardError.contains("after \(snapshots) of 20 snapshots"))
        let ends = try LoadedTrace(path: directory + "/t.mrtrace").snapshotEnds
        #expect(ends.count == snapshots)
        #expect(ends.last?.flags.contains(.bufferFull) == true)
        #expect(ends.dropLast().allSatisfy { !$0.flags.contains(.bufferFull) })
    }

    @Test(arguments: ["chromium", "smaps", "retry-stable:4"])
    func thePlannedBufferHoldsEverySnapshot(_ reader: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(Self.arguments + ["--reader", reader], in: directory, environment: [])
        try #require(run.exitCode == 0, "\(run.standardError)")
        #expect(jsonInteger("buffer_full_snapshots", in: run.standardOutput) == 0)
        #expect((jsonInteger("reader_buffer_bytes", in: run.standardOutput) ?? 0) >= ReaderBufferPlan.minimumCapacityBytes)
        #expect(!run.standardError.contains("warning"))
        let ends = try LoadedTrace(path: directory + "/t.mrtrace").snapshotEnds
        #expect(ends.allSatisfy { !$0.flags.contains(.bufferFull) })
        let strategy = try ReaderStrategy(parsing: reader)
        if case .retryStable(let attempts) = strategy {
            #expect(retryResults(ends, maxAttempts: attempts) == 20)
        } else {
            #expect(ends.count == 20)
        }
        #expect(jsonInteger("snapshots", in: run.standardOutput) == ends.count)
    }
}
