import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// What the `_reader` subcommand is told by the recorder that spawned it.
public struct ReaderProcessConfiguration: Sendable, Equatable {
    /// The mutator: the reader reads `/proc/<targetPID>/maps`.
    public var targetPID: Int32
    public var strategy: ReaderStrategy
    /// Snapshots to take; for `retry-stable`, results (accepted attempts or
    /// groups of attempts that gave up).
    public var snapshotCount: Int
    /// Inherited memfd the log is written to after the last snapshot.
    public var logFD: Int32
    /// Inherited pipe end: one byte is written right before the first open.
    public var readyFD: Int32
    /// Size of the byte buffer every returned byte is stored in, as the
    /// recorder plans it for the strategy (`ReaderStrategy.bufferPlan`);
    /// `effectiveByteCapacity` is what the reader maps, with MAP_NORESERVE.
    public var byteCapacity: Int
    /// How much of the byte buffer is faulted in before the first snapshot:
    /// what the recording is expected to use (the rest costs nothing unless
    /// it is reached).
    public var populatedBytes: Int

    /// For tests: milliseconds the reader waits between telling the recorder
    /// it is ready and its first snapshot (`_reader --start-delay-ms`), so
    /// that a test gets snapshots no mutation overlaps (the mutator's loop is over).
    public var startDelayMilliseconds = 0

    /// The largest byte buffer a reader maps: a quarter of the machine's
    /// memory, at most 4 GiB (at least 64 MiB). A recording that needs more
    /// ends with a bufferFull snapshot, which `record` reports.
    public static var maximumByteCapacity: Int {
        min(max(MachineLimits.physicalMemoryBytes / 4, 64 << 20), 4 << 30)
    }
    /// The smallest byte buffer a reader maps.
    public static let minimumByteCapacity = 64 << 10
    /// The largest chunk table (entries) a reader allocates.
    public static let maximumChunkCapacity = 2 << 20
    /// The largest snapshot table (entries, 72 bytes each: 72 MiB of address
    /// space) a reader maps: --snapshots times retry-stable's attempts must
    /// fit (`RecordingConfiguration.validate`).
    public static let maximumSnapshotCapacity = 1 << 20

    /// `populatedBytes` defaults to the whole buffer.
    public init(
        targetPID: Int32, strategy: ReaderStrategy, snapshotCount: Int, logFD: Int32, readyFD: Int32,
        byteCapacity: Int, populatedBytes: Int? = nil
    ) {
        self.targetPID = targetPID
        self.strategy = strategy
        self.snapshotCount = snapshotCount
        self.logFD = logFD
        self.readyFD = readyFD
        self.byteCapacity = byteCapacity
        self.populatedBytes = populatedBytes ?? byteCapacity
    }

    /// What the reader cannot run with: no snapshots, more than its snapshot
    /// table holds, a negative descriptor or buffer size.
    /// `invalidConfiguration` (exit 64) naming the option otherwise.
    public func validate() throws(RecordingError) {
        if let problem = Self.snapshotTableProblem(snapshots: snapshotCount, strategy: strategy) {
            throw .invalidConfiguration(problem)
        }
        for (option, value) in [("--log-fd", Int(logFD)), ("--ready-fd", Int(readyFD)),
                                ("--buffer-bytes", byteCapacity), ("--populate-bytes", populatedBytes)] where value < 0 {
            throw .invalidConfiguration("\(option) must not be negative (got \(value))")
        }
    }

    /// The same configuration with `startDelayMilliseconds` set.
    public func withStartDelay(milliseconds: Int) -> ReaderProcessConfiguration {
        var configuration = self
        configuration.startDelayMilliseconds = milliseconds
        return configuration
    }

    /// The command-line arguments of `_reader` that describe this configuration.
    var arguments: [String] {
        [
            "--pid", "\(targetPID)", "--reader", strategy.exactSpelling, "--snapshots", "\(snapshotCount)",
            "--log-fd", "\(logFD)", "--ready-fd", "\(readyFD)", "--buffer-bytes", "\(byteCapacity)",
            "--populate-bytes", "\(populatedBytes)",
        ] + (startDelayMilliseconds > 0 ? ["--start-delay-ms", "\(startDelayMilliseconds)"] : [])
    }

    /// Read chunks the table must hold for `byteCapacity` bytes: every
    /// read(2) returns at least min(request, 512) bytes but the last of each
    /// snapshot (maps is generated a page at a time and seq_file fills the
    /// user buffer), plus the end-of-file read of each snapshot.
    /// A `procmap-query` chunk is one rendered line, at least 41 bytes.
    var chunkCapacity: Int { chunkEntries(forBytes: effectiveByteCapacity) }

    /// The part of the chunk table faulted in up front, in the same
    /// proportion as the byte buffer.
    var populatedChunkCount: Int { min(chunkEntries(forBytes: effectivePopulatedBytes), chunkCapacity) }

    private func chunkEntries(forBytes byteCount: Int) -> Int {
        let smallestReturn: Int
        switch strategy {
        case .chromium, .pmap, .smaps, .retryStable: smallestReturn = min(ReaderStrategy.procfsStdioBufferBytes, 512)
        case .read(let bytes): smallestReturn = min(bytes, 512)
        case .frozen: smallestReturn = 512
        case .procmapQuery: smallestReturn = ProcmapQueryWalk.shortestLineBytes
        case .tool(let profile): smallestReturn = profile.smallestReturnBytes
        }
        let estimate = byteCount / smallestReturn + 2 * snapshotCapacity + 16
        return min(estimate, Self.maximumChunkCapacity)
    }

    /// Snapshots the reader may log: `retry-stable` logs every attempt
    /// (within `maximumSnapshotCapacity`; validation keeps to it).
    var snapshotCapacity: Int { Self.snapshotEntries(snapshotCount, attemptsEach: strategy.attemptsPerResult.most) }

    /// The part of the snapshot table faulted in up front: the attempts a
    /// result is expected to take (`ReaderStrategy.attemptsPerResult`).
    var populatedSnapshotCount: Int {
        min(Self.snapshotEntries(snapshotCount, attemptsEach: strategy.attemptsPerResult.expected), snapshotCapacity)
    }

    /// `snapshots` x `attemptsEach`, at most `maximumSnapshotCapacity` (and at least 1).
    static func snapshotEntries(_ snapshots: Int, attemptsEach: Int) -> Int {
        let (entries, overflow) = max(snapshots, 1).multipliedReportingOverflow(by: max(attemptsEach, 1))
        return overflow ? maximumSnapshotCapacity : min(entries, maximumSnapshotCapacity)
    }

    /// Why `snapshotCount` cannot be taken with this strategy's table, nil if it can.
    static func snapshotTableProblem(snapshots: Int, strategy: ReaderStrategy) -> String? {
        guard snapshots >= 1 else { return "--snapshots must be at least 1 (got \(snapshots))" }
        let attempts = strategy.attemptsPerResult.most
        let (entries, overflow) = snapshots.multipliedReportingOverflow(by: attempts)
        guard overflow || entries > maximumSnapshotCapacity else { return nil }
        if attempts > 1 {
            return "--snapshots \(snapshots) x \(attempts) attempts exceeds the reader's \(maximumSnapshotCapacity)-entry snapshot table"
        }
        return "--snapshots must be at most \(maximumSnapshotCapacity) (got \(snapshots))"
    }

    /// The byte buffer the reader maps: `byteCapacity` within
    /// `minimumByteCapacity...maximumByteCapacity` (a recording that needs
    /// more ends with bufferFull).
    var effectiveByteCapacity: Int {
        min(max(byteCapacity, Self.minimumByteCapacity), Self.maximumByteCapacity)
    }

    /// The part of the byte buffer faulted in before the first snapshot.
    var effectivePopulatedBytes: Int { min(max(populatedBytes, 0), effectiveByteCapacity) }
}

/// The reader process's main: reads the maps `snapshotCount` times back to
/// back, logging every read(2) into preallocated memory, then hands the log
/// over through `logFD`. Stops early (log still handed over) on SIGINT or
/// SIGTERM. A `frozen` reader that cannot stop the target hands over what it
/// has and then fails.
public func runReaderProcess(_ configuration: ReaderProcessConfiguration) throws(RecordingError) {
    if case .failure(let code) = StopSignal.install() {
        throw .systemCallFailed("sigaction", errno: code.rawValue)
    }
    if configuration.strategy == .procmapQuery,
        let reason = ProcmapQueryWalk.unsupportedReason(pid: configuration.targetPID)
    {
        throw reason
    }
    let reader = try MapsReader(configuration)
    reader.readAllSnapshots()
    try reader.handOverLog()
    let failure = reader.stopFailure
    if failure != 0 {
        throw .readerFailed("cannot stop the target with ptrace: \(errorText(failure)) (errno \(failure))")
    }
}

/// The read side of a glibc FILE: its buffer and what of it is unread.
private struct GlibcFileReadBuffer {
    let buffer: UnsafeMutableRawPointer
    var position = 0
    var end = 0
    var endOfFile = false
    var failed = false

    init(buffer: UnsafeMutableRawPointer) {
        self.buffer = buffer
    }
}

/// The reader's state: preallocated tables and the snapshot being read. A
/// class so that the stdio read hook can reach it through its cookie.
private final class MapsReader {
    private let configuration: ReaderProcessConfiguration
    private let path: ContiguousArray<CChar>
    private let byteRegion: PreallocatedRegion
    private let chunkRegion: PreallocatedRegion
    private let snapshotRegion: PreallocatedRegion
    private let stdioRegion: PreallocatedRegion
    private let bytes: UnsafeMutableRawBufferPointer
    private let chunks: UnsafeMutableBufferPointer<ReaderChunkEntry>
    private let snapshots: UnsafeMutableBufferPointer<ReaderSnapshotEntry>
    /// The FILE's own buffer (setvbuf), then the caller's fread/fgets buffer.
    private let stdioBuffer: UnsafeMutablePointer<CChar>
    private let callerBuffer: UnsafeMutableRawPointer
    /// `procmap-query`'s answer table; `frozen`'s thread stopper.
    private let procmapWalk: ProcmapQueryWalk?
    private let freeze: TargetFreeze?
    /// Why `frozen` could not stop the target (an errno), 0 if it could.
    private(set) var stopFailure: Int32 = 0
    private var bytesUsed = 0
    private var chunkCount = 0
    private var snapshotCount = 0

    // The snapshot being read.
    private var fd: Int32 = -1
    private var snapshotIndex: UInt32 = 0
    private var sequence: UInt32 = 0
    private var offset: UInt64 = 0
    private var outcome: SnapshotFlags = []
    private var failureErrno: Int32 = 0
    /// When the snapshot being read began (perf's timeout counts from it).
    private var snapshotBegin: UInt64 = 0
    /// `sanitizer`: the size of the buffer the snapshot being read fills.
    private var reopenBufferBytes = 0
    /// Where the snapshot being read starts in the byte buffer.
    private var snapshotFirstByte = 0

    init(_ configuration: ReaderProcessConfiguration) throws(RecordingError) {
        self.configuration = configuration
        path = ContiguousArray(configuration.strategy.procfsPath(pid: configuration.targetPID).utf8CString)
        let byteCapacity = configuration.effectiveByteCapacity
        byteRegion = try PreallocatedRegion(
            byteCount: byteCapacity, populatedBytes: configuration.effectivePopulatedBytes,
            purpose: "the reader's byte buffer")
        bytes = byteRegion.bytes
        let chunkCapacity = configuration.chunkCapacity
        chunkRegion = try PreallocatedRegion(
            byteCount: chunkCapacity * MemoryLayout<ReaderChunkEntry>.stride,
            populatedBytes: configuration.populatedChunkCount * MemoryLayout<ReaderChunkEntry>.stride,
            purpose: "the reader's chunk table")
        chunks = UnsafeMutableBufferPointer(
            rebasing: chunkRegion.bytes.bindMemory(to: ReaderChunkEntry.self)[0..<chunkCapacity])
        let snapshotCapacity = configuration.snapshotCapacity
        snapshotRegion = try PreallocatedRegion(
            byteCount: snapshotCapacity * MemoryLayout<ReaderSnapshotEntry>.stride,
            populatedBytes: configuration.populatedSnapshotCount * MemoryLayout<ReaderSnapshotEntry>.stride,
            purpose: "the reader's snapshot table")
        snapshots = UnsafeMutableBufferPointer(
            rebasing: snapshotRegion.bytes.bindMemory(to: ReaderSnapshotEntry.self)[0..<snapshotCapacity])
        stdioRegion = try PreallocatedRegion(
            byteCount: ReaderStrategy.procfsStdioBufferBytes + ReaderStrategy.chromiumNextChunkBytes,
            purpose: "the reader's stdio buffers")
        stdioBuffer = stdioRegion.bytes.baseAddress!.bindMemory(to: CChar.self, capacity: ReaderStrategy.procfsStdioBufferBytes)
        callerBuffer = stdioRegion.bytes.baseAddress! + ReaderStrategy.procfsStdioBufferBytes
        switch configuration.strategy {
        case .procmapQuery:
            // One walk answers every mapping once: at most vm.max_map_count
            // of them (plus slack for a kernel that reports one twice).
            let mappings = (MachineLimits.maxMapCount() ?? 65530) + 1024
            procmapWalk = try ProcmapQueryWalk(capacity: mappings, nameBytes: 4 << 20)
            freeze = nil
        case .frozen:
            procmapWalk = nil
            freeze = try TargetFreeze(pid: configuration.targetPID)
        default:
            procmapWalk = nil
            freeze = nil
        }
        // Globals are initialised on first use (the size-class table is an
        // array): use them now, not between two reads of the first snapshot.
        if case .tool(.go) = configuration.strategy {
            _ = GoSliceGrowth.nextCapacity(oldCapacity: 512, needed: 513)
        }
    }

    func readAllSnapshots() {
        signalReady()
        if configuration.startDelayMilliseconds > 0 {
            MonotonicClock.sleep(nanoseconds: UInt64(configuration.startDelayMilliseconds) * 1_000_000)
        }
        switch configuration.strategy {
        case .retryStable(let maxAttempts):
            for _ in 0..<configuration.snapshotCount {
                if StopSignal.received != 0 || !readUntilStable(maxAttempts: maxAttempts) { break }
            }
        case .tool(let profile) where profile.validation == .overlapRetry:
            for _ in 0..<configuration.snapshotCount {
                if StopSignal.received != 0 || !readUntilNoOverlap(attempts: profile.attemptsPerResult) { break }
            }
        case .tool(let profile):
            if case .reopenDoubling(let first, let most) = profile.readPattern {
                for _ in 0..<configuration.snapshotCount {
                    if StopSignal.received != 0 || !readReopeningDoubled(first: first, most: most) { break }
                }
            } else {
                for _ in 0..<configuration.snapshotCount {
                    if StopSignal.received != 0 || !readSnapshot() { break }
                }
            }
        case .frozen:
            for number in 0..<configuration.snapshotCount {
                if number > 0 { letTheTargetRun() }
                if StopSignal.received != 0 || !readFrozenSnapshot() { break }
            }
        default:
            for _ in 0..<configuration.snapshotCount {
                if StopSignal.received != 0 || !readSnapshot() { break }
            }
        }
    }

    /// `retry-stable`: whole snapshots until one is byte-identical to the
    /// one before it (that one gets `accepted`), at most `maxAttempts`; each
    /// attempt is its own snapshot flagged `retryAttempt`. The comparison
    /// touches only the byte buffer. false when no further snapshot can succeed.
    private func readUntilStable(maxAttempts: Int) -> Bool {
        var previous: Range<Int>?  // bytes of the last complete attempt
        for _ in 0..<maxAttempts {
            if StopSignal.received != 0 { return false }
            let start = bytesUsed
            let keepGoing = readSnapshot(flags: .retryAttempt)
            let current = start..<bytesUsed
            let entry = snapshotCount - 1
            let complete = keepGoing && SnapshotFlags(rawValue: snapshots[entry].flags).contains(.reachedEOF)
            if complete, let previous, previous.count == current.count,
                memcmp(bytes.baseAddress! + previous.lowerBound, bytes.baseAddress! + current.lowerBound, current.count) == 0
            {
                snapshots[entry].flags |= SnapshotFlags.accepted.rawValue
                return true
            }
            if !keepGoing { return false }
            previous = complete ? current : nil
        }
        return true
    }

    /// Between two `frozen` snapshots the target runs for as long as it was
    /// last stopped: it is never stopped more than half of the time. Back to
    /// back, the next stop would come within microseconds of the resume and
    /// the target would make no progress at all while the reader runs.
    private func letTheTargetRun() {
        guard snapshotCount > 0 else { return }
        let last = snapshots[snapshotCount - 1]
        guard last.tResumed > last.tInterruptRequested else { return }
        let pause = last.tResumed - last.tInterruptRequested
        // A stop signal ends the sleep early (EINTR); the caller looks at it.
        MonotonicClock.sleep(nanoseconds: pause)
    }

    /// `frozen`: stop every thread of the target, take one snapshot with
    /// read(2) of 64 KiB, resume the target; the three instants go into the
    /// snapshot's entry. false when the target could not be stopped or no
    /// further snapshot can succeed.
    private func readFrozenSnapshot() -> Bool {
        guard let freeze else { return false }
        let tInterruptRequested = MonotonicClock.now()
        let failure = freeze.stop()
        guard failure == 0 else {
            stopFailure = failure
            return false
        }
        let tStoppedConfirmed = MonotonicClock.now()
        let logged = snapshotCount
        let keepGoing = readSnapshot()
        freeze.resume()
        let tResumed = MonotonicClock.now()
        guard snapshotCount > logged else { return false }
        snapshots[snapshotCount - 1].tInterruptRequested = tInterruptRequested
        snapshots[snapshotCount - 1].tStoppedConfirmed = tStoppedConfirmed
        snapshots[snapshotCount - 1].tResumed = tResumed
        return keepGoing
    }

    /// Tells the recorder the first open is next, so its loop starts now.
    private func signalReady() {
        var byte: UInt8 = 1
        _ = write(configuration.readyFD, &byte, 1)
        close(configuration.readyFD)
    }

    /// One snapshot, logged as the next entry of the snapshot table with
    /// `flags` added: a fresh open, reads (or queries) from offset 0 to EOF,
    /// close. false when no further snapshot can succeed.
    private func readSnapshot(flags: SnapshotFlags = []) -> Bool {
        guard snapshotCount < snapshots.count else { return false }
        let index = UInt32(snapshotCount)
        snapshotIndex = index
        sequence = 0
        offset = 0
        outcome = flags
        failureErrno = 0
        let firstChunk = chunkCount
        let tBegin = MonotonicClock.now()
        snapshotBegin = tBegin
        snapshotFirstByte = bytesUsed
        fd = path.withUnsafeBufferPointer { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            failureErrno = Errno.afterFailedCall.rawValue
            outcome.insert(.failed)
        } else {
            switch configuration.strategy {
            case .read(let requestBytes): readLoop(requestBytes: requestBytes)
            case .chromium, .smaps, .retryStable: chromiumLoop()
            case .pmap: pmapLoop()
            case .frozen: readLoop(requestBytes: ReaderStrategy.frozenRequestBytes)
            case .procmapQuery: procmapQueryLoop()
            case .tool(let profile): toolLoop(profile)
            }
        }
        let tEnd = MonotonicClock.now()
        if fd >= 0 { close(fd) }
        fd = -1
        snapshots[snapshotCount] = ReaderSnapshotEntry(
            index: index, flags: outcome.rawValue, tBegin: tBegin, tEnd: tEnd, errno: failureErrno, reserved: 0,
            firstChunk: UInt64(firstChunk), chunkCount: UInt64(chunkCount - firstChunk))
        snapshotCount += 1
        return !outcome.contains(.failed) && !outcome.contains(.bufferFull) && !outcome.contains(.interrupted)
    }

    /// One logged read(2) of `requested` bytes into `destination`; the bytes
    /// are copied into the byte buffer unless they were read straight into it.
    /// Refuses (ENOBUFS) a read whose result might not fit, and stops (EINTR)
    /// once a stop signal arrived.
    func loggedRead(
        into destination: UnsafeMutableRawPointer, requested: Int, readsInPlace: Bool, at position: Int? = nil
    ) -> Int {
        if StopSignal.received != 0 {
            outcome.insert(.interrupted)
            Errno.setForCaller(.interrupted)
            return -1
        }
        guard chunkCount < chunks.count, bytes.count - bytesUsed >= requested else {
            outcome.insert(.bufferFull)
            Errno.setForCaller(.noBufferSpace)
            return -1
        }
        let tBegin = MonotonicClock.now()
        let returned: Int
        if let position {
            returned = pread(fd, destination, requested, off_t(position))
        } else {
            returned = read(fd, destination, requested)
        }
        let code = returned < 0 ? Errno.afterFailedCall.rawValue : 0
        let tEnd = MonotonicClock.now()
        if returned > 0 && !readsInPlace {
            (bytes.baseAddress! + bytesUsed).copyMemory(from: destination, byteCount: returned)
        }
        chunks[chunkCount] = ReaderChunkEntry(
            snapshot: snapshotIndex, sequence: sequence, offset: offset, requested: UInt64(requested),
            returned: Int64(returned), errno: code, reserved: 0, tBegin: tBegin, tEnd: tEnd,
            byteOffset: UInt64(bytesUsed))
        chunkCount += 1
        sequence += 1
        if returned > 0 {
            bytesUsed += returned
            offset += UInt64(returned)
        } else if returned == 0 {
            outcome.insert(.reachedEOF)
        } else {
            outcome.insert(.failed)
            failureErrno = code
            Errno.setForCaller(Errno(rawValue: code))
        }
        return returned
    }

    /// `read:SIZE` and `cat`: read(2) straight into the byte buffer.
    private func readLoop(requestBytes: Int) {
        while loggedRead(into: bytes.baseAddress! + bytesUsed, requested: requestBytes, readsInPlace: true) > 0 {}
    }

    /// A FILE whose reads are this reader's logged read(2), buffered like
    /// glibc buffers procfs files (1024 bytes, from st_blksize). fgets on it
    /// goes through glibc's own underflow, so its reads are a real FILE's.
    private func openLoggedStream() -> UnsafeMutablePointer<FILE>? {
        let cookie = Unmanaged.passUnretained(self).toOpaque()
        let opened = MapsSystem.openLoggedStream(cookie: cookie, read: { cookie, buffer, size in
            guard let cookie, let buffer else { return -1 }
            // The reader outlives its stream: borrow it without a retain and
            // release around every read(2).
            return Unmanaged<MapsReader>.fromOpaque(cookie)._withUnsafeGuaranteedRef {
                $0.loggedRead(into: buffer, requested: size, readsInPlace: false)
            }
        })
        guard case .success(let stream) = opened else {
            if case .failure(let code) = opened { failureErrno = code.rawValue }
            outcome.insert(.failed)
            return nil
        }
        setvbuf(stream, stdioBuffer, _IOFBF, ReaderStrategy.procfsStdioBufferBytes)
        return stream
    }

    /// Chromium's ReadFileToString for a file whose stat size is 0: fread
    /// 4 KiB, then 64 KiB at a time until a short read.
    private func chromiumLoop() {
        var stream = GlibcFileReadBuffer(buffer: UnsafeMutableRawPointer(stdioBuffer))
        var chunkBytes = ReaderStrategy.chromiumFirstChunkBytes
        while true {
            let got = fread(into: callerBuffer, count: chunkBytes, from: &stream)
            if got < chunkBytes || stream.endOfFile || stream.failed { break }
            chunkBytes = ReaderStrategy.chromiumNextChunkBytes
        }
    }

    /// fread(3) on a FILE opened on the maps, exactly as glibc issues its
    /// read(2) calls (libio `_IO_file_xsgetn`): what the buffer holds is
    /// copied; a remainder smaller than the buffer refills the buffer (one
    /// 1024-byte read); a larger one is read straight into the caller's
    /// memory, rounded down to whole buffer sizes.
    ///
    /// A fopencookie stream cannot be used here: glibc gives cookie streams
    /// the generic `_IO_default_xsgetn`, which only ever reads buffer-sized
    /// chunks, so fread's request sizes would not match a real program's.
    private func fread(
        into destination: UnsafeMutableRawPointer, count: Int, from stream: inout GlibcFileReadBuffer
    ) -> Int {
        var want = count
        var target = destination
        let blockSize = ReaderStrategy.procfsStdioBufferBytes
        while want > 0 {
            let have = stream.end - stream.position
            if want <= have {
                target.copyMemory(from: stream.buffer + stream.position, byteCount: want)
                stream.position += want
                want = 0
                break
            }
            if have > 0 {
                target.copyMemory(from: stream.buffer + stream.position, byteCount: have)
                target += have
                want -= have
                stream.position = stream.end
            }
            if stream.endOfFile || stream.failed { break }
            if want < blockSize {
                // __underflow: refill the whole buffer.
                let got = loggedRead(into: stream.buffer, requested: blockSize, readsInPlace: false)
                if got <= 0 {
                    if got == 0 { stream.endOfFile = true } else { stream.failed = true }
                    break
                }
                stream.position = 0
                stream.end = got
                continue
            }
            stream.position = 0
            stream.end = 0
            let request = blockSize >= 128 ? want - want % blockSize : want
            let got = loggedRead(into: target, requested: request, readsInPlace: false)
            if got <= 0 {
                if got == 0 { stream.endOfFile = true } else { stream.failed = true }
                break
            }
            target += got
            want -= got
        }
        return count - want
    }

    /// `procmap-query`: PROCMAP_QUERY from address 0, each query from the
    /// end of the mapping answered before, until ENOENT. During the walk each
    /// query is logged as a chunk with its timestamps and `requested` = the
    /// query address; the answers stay raw. After the walk each answer is
    /// rendered as its maps line into the byte buffer and its chunk gets
    /// `offset` (bytes rendered before it), `returned` and the bytes. The
    /// final ENOENT is a 0-byte chunk, like end of file.
    private func procmapQueryLoop() {
        guard let walk = procmapWalk else { return }
        walk.reset()
        let firstChunk = chunkCount
        var address: UInt64 = 0
        while true {
            if StopSignal.received != 0 {
                outcome.insert(.interrupted)
                break
            }
            guard chunkCount < chunks.count, walk.hasRoom else {
                outcome.insert(.bufferFull)
                break
            }
            let tBegin = MonotonicClock.now()
            let code = walk.query(fd, at: address)
            let tEnd = MonotonicClock.now()
            chunks[chunkCount] = ReaderChunkEntry(
                snapshot: snapshotIndex, sequence: sequence, offset: 0, requested: address,
                returned: code == 0 || code == ENOENT ? 0 : -1, errno: code == ENOENT ? 0 : code, reserved: 0,
                tBegin: tBegin, tEnd: tEnd, byteOffset: UInt64(bytesUsed))
            chunkCount += 1
            sequence += 1
            if code == ENOENT {
                outcome.insert(.reachedEOF)
                break
            }
            if code != 0 {
                outcome.insert(.failed)
                failureErrno = code
                break
            }
            let next = walk.endOfLastAnswer
            guard next > address else {  // a kernel answering backwards would loop forever
                outcome.insert(.failed)
                failureErrno = EIO
                break
            }
            address = next
        }
        // The walk is over: render the answers in order.
        for answer in 0..<walk.count {
            let chunk = firstChunk + answer
            let free = UnsafeMutableRawBufferPointer(rebasing: bytes[bytesUsed...])
            guard let length = walk.renderLine(answer, into: free) else {
                outcome.insert(.bufferFull)
                outcome.remove(.reachedEOF)
                chunkCount = chunk
                sequence = UInt32(chunk - firstChunk)
                return
            }
            chunks[chunk].offset = offset
            chunks[chunk].returned = Int64(length)
            chunks[chunk].byteOffset = UInt64(bytesUsed)
            bytesUsed += length
            offset += UInt64(length)
        }
        // The chunk after the answers, if any, ended the walk (ENOENT or an error).
        if chunkCount > firstChunk + walk.count {
            chunks[firstChunk + walk.count].offset = offset
            chunks[firstChunk + walk.count].byteOffset = UInt64(bytesUsed)
        }
    }

    /// procps pmap: fgets into a 1024-byte line buffer until end of file.
    private func pmapLoop() {
        guard let stream = openLoggedStream() else { return }
        let line = callerBuffer.assumingMemoryBound(to: CChar.self)
        while fgets(line, 1024, stream) != nil {}
        fclose(stream)
    }

    /// Writes the tables and bytes to the log fd, the header last.
    func handOverLog() throws(RecordingError) {
        let headerBytes = MemoryLayout<ReaderLogHeader>.stride
        let snapshotBytes = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: snapshots[0..<snapshotCount]))
        let chunkBytes = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: chunks[0..<chunkCount]))
        let returnedBytes = UnsafeRawBufferPointer(rebasing: bytes[0..<bytesUsed])
        var position = headerBytes
        for part in [snapshotBytes, chunkBytes, returnedBytes] {
            if case .failure(let code) = writeAll(configuration.logFD, part, at: position) {
                throw .systemCallFailed("writing the reader log", errno: code.rawValue)
            }
            position += part.count
        }
        var header = ReaderLogHeader(
            magic: ReaderLogHeader.expectedMagic,
            snapshotStride: UInt64(MemoryLayout<ReaderSnapshotEntry>.stride),
            chunkStride: UInt64(MemoryLayout<ReaderChunkEntry>.stride),
            snapshotCount: UInt64(snapshotCount), chunkCount: UInt64(chunkCount), byteCount: UInt64(bytesUsed))
        let written = withUnsafeBytes(of: &header) { writeAll(configuration.logFD, $0, at: 0) }
        if case .failure(let code) = written {
            throw .systemCallFailed("writing the reader log header", errno: code.rawValue)
        }
    }
}

// MARK: - Real tools' read loops (ToolProfile)

extension MapsReader {
    /// One snapshot read the way `profile` reads. Every read goes straight
    /// into the byte buffer (the tools' own buffers hold the same bytes);
    /// what a tool decides between two reads is decided from the bytes
    /// already there, with no allocation or formatting.
    fileprivate func toolLoop(_ profile: ToolProfile) {
        switch profile.readPattern {
        case .fixed(let bytes):
            if profile.validation == .timeout {
                timedReadLoop(requestBytes: bytes, timeoutNs: ToolProfile.perfTimeoutNs)
            } else {
                readLoopInPlace(requestBytes: bytes)
            }
        case .lineBuffer(let capacity): lineBufferLoop(capacity: capacity)
        case .consumedRefill(let capacity): consumedRefillLoop(capacity: capacity)
        case .reopenDoubling: _ = fillLoop(capacity: reopenBufferBytes)
        case .fillOnce(let capacity):
            // Valgrind gives up (am_barf_toolow) when fewer than 5 bytes are left.
            if fillLoop(capacity: capacity) >= capacity - 5 { outcome.insert(.gaveUp) }
        case .goReadFile: goReadFileLoop()
        case .preadGrowing(let first, let padding): preadGrowingLoop(first: first, padding: padding)
        case .pythonReadAll: pythonReadAllLoop()
        }
        if profile.validation == .skipBackwards, outcome.contains(.reachedEOF) {
            outcome.formUnion(MapsTextRules.skipCheck(UnsafeRawBufferPointer(rebasing: bytes[snapshotFirstByte..<bytesUsed])))
        }
    }

    /// `crashpad`, `cpptrace`: whole snapshots until one has no line starting
    /// below the previous line's end, at most `attempts`. Each attempt is
    /// its own snapshot (`retryAttempt`); the one that passes is `accepted`,
    /// the others `validationRejected`, the last of those also `gaveUp`.
    /// false when no further snapshot can succeed.
    fileprivate func readUntilNoOverlap(attempts: Int) -> Bool {
        for attempt in 1...attempts {
            if StopSignal.received != 0 { return false }
            let start = bytesUsed
            let keepGoing = readSnapshot(flags: .retryAttempt)
            guard keepGoing, SnapshotFlags(rawValue: snapshots[snapshotCount - 1].flags).contains(.reachedEOF) else { return false }
            let text = UnsafeRawBufferPointer(rebasing: bytes[start..<bytesUsed])
            let check = MapsTextRules.overlapCheck(text, attempt: attempt, of: attempts)
            snapshots[snapshotCount - 1].flags |= check.rawValue
            if check.contains(.accepted) { return true }
        }
        return true
    }

    /// `sanitizer`: a buffer of `first` bytes, filled; while it fills up
    /// before end of file, the file is reopened with one twice as large (at
    /// most `most`, where it gives up and keeps what it read). Each attempt
    /// is a snapshot flagged `retryAttempt`; the one that reached end of file
    /// is `accepted`. false when no further snapshot can succeed.
    fileprivate func readReopeningDoubled(first: Int, most: Int) -> Bool {
        var size = first
        while true {
            if StopSignal.received != 0 { return false }
            reopenBufferBytes = size
            guard readSnapshot(flags: .retryAttempt) else { return false }
            if SnapshotFlags(rawValue: snapshots[snapshotCount - 1].flags).contains(.reachedEOF) {
                snapshots[snapshotCount - 1].flags |= SnapshotFlags.accepted.rawValue
                return true
            }
            if size >= most {
                snapshots[snapshotCount - 1].flags |= SnapshotFlags.gaveUp.rawValue
                return true
            }
            size = min(size * 2, most)
        }
    }

    private func readLoopInPlace(requestBytes: Int) {
        while loggedRead(into: bytes.baseAddress! + bytesUsed, requested: requestBytes, readsInPlace: true) > 0 {}
    }

    /// perf: reading stops once the snapshot has taken longer than the
    /// timeout (perf checks per line; here after each read).
    private func timedReadLoop(requestBytes: Int, timeoutNs: UInt64) {
        let begin = snapshotBegin
        while loggedRead(into: bytes.baseAddress! + bytesUsed, requested: requestBytes, readsInPlace: true) > 0 {
            if MonotonicClock.now() &- begin > timeoutNs {
                outcome.insert(.gaveUp)
                return
            }
        }
    }

    /// Breakpad's LineReader: read only when no whole line is buffered,
    /// into what the partial line leaves of the buffer.
    private func lineBufferLoop(capacity: Int) {
        var kept = 0
        while kept < capacity {
            let got = loggedRead(into: bytes.baseAddress! + bytesUsed, requested: capacity - kept, readsInPlace: true)
            if got <= 0 { return }
            kept = MapsTextRules.partialLineLength(endingAt: bytes.baseAddress! + bytesUsed, within: kept + got)
        }
    }

    /// DynamoRIO's iterator: the first read asks for the whole buffer;
    /// once every whole line is consumed, the partial line moves to the
    /// front and the read asks for exactly the consumed bytes. A buffer
    /// with no whole line ends the walk (DynamoRIO gives up there too).
    private func consumedRefillLoop(capacity: Int) {
        var request = capacity
        var kept = 0
        while true {
            let got = loggedRead(into: bytes.baseAddress! + bytesUsed, requested: request, readsInPlace: true)
            if got <= 0 { return }
            let filled = kept + got
            kept = MapsTextRules.partialLineLength(endingAt: bytes.baseAddress! + bytesUsed, within: filled)
            if kept == filled { return }
            request = filled - kept
        }
    }

    /// Fills `capacity` bytes: read(2) of what is left until full or end
    /// of file. Returns the bytes read.
    private func fillLoop(capacity: Int) -> Int {
        var length = 0
        while length < capacity {
            let got = loggedRead(into: bytes.baseAddress! + bytesUsed, requested: capacity - length, readsInPlace: true)
            if got <= 0 { break }
            length += got
        }
        return length
    }

    /// Go's os.ReadFile for a file whose size is 0: a 512-byte slice,
    /// grown by append (one more byte needed) whenever it is full.
    private func goReadFileLoop() {
        var capacity = 512
        var length = 0
        while true {
            if length >= capacity { capacity = GoSliceGrowth.nextCapacity(oldCapacity: capacity, needed: capacity + 1) }
            let got = loggedRead(into: bytes.baseAddress! + bytesUsed, requested: capacity - length, readsInPlace: true)
            if got <= 0 { return }
            length += got
        }
    }

    /// gdb's target_fileio_read_alloc_1: pread64 at the running offset of
    /// what the buffer has left minus the padding; the buffer doubles when
    /// it is more than half full.
    private func preadGrowingLoop(first: Int, padding: Int) {
        var allocated = first
        var position = 0
        while true {
            let got = loggedRead(
                into: bytes.baseAddress! + bytesUsed, requested: allocated - position - padding, readsInPlace: true, at: position)
            if got <= 0 { return }
            position += got
            if allocated < position * 2 { allocated *= 2 }
        }
    }

    /// CPython's FileIO.readall (what psutil's `f.read()` ends in).
    private func pythonReadAllLoop() {
        var size = PythonReadAllGrowth.first
        var length = 0
        while true {
            if length >= size { size = PythonReadAllGrowth.next(after: length) }
            let got = loggedRead(into: bytes.baseAddress! + bytesUsed, requested: size - length, readsInPlace: true)
            if got <= 0 { return }
            length += got
        }
    }
}

extension ReaderProcessConfiguration {
    /// The arguments of `_traced-reader` (before `--` and the command).
    var tracedReaderArguments: [String] {
        ["--pid", "\(targetPID)", "--snapshots", "\(snapshotCount)", "--log-fd", "\(logFD)", "--ready-fd", "\(readyFD)"]
    }
}
