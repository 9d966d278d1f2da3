import MapsSystem
import MapsTrace

/// How the reader process reads `/proc/PID/maps`: the read(2) pattern of a
/// real program, or another way of learning the mappings. Every strategy
/// takes each snapshot from a fresh open and logs every read(2) (or query)
/// it makes as one read chunk.
public enum ReaderStrategy: Sendable, Equatable, CustomStringConvertible {
    /// Chromium's ReadFileToString: stdio `fread` with a 4 KiB first chunk,
    /// then 64 KiB chunks, on a FILE buffered as glibc buffers procfs files.
    case chromium
    /// procps `pmap`: an `fgets` line loop on the same kind of FILE.
    case pmap
    /// A plain read(2) loop with a buffer of this many bytes.
    case read(bytes: Int)
    /// A walk with the PROCMAP_QUERY ioctl (Linux 6.11+): one query per
    /// mapping, each answer rendered afterwards as the maps line the kernel
    /// would print. See `ProcmapQueryWalk`.
    case procmapQuery
    /// Whole `chromium` snapshots until two in a row are byte-identical, at
    /// most `maxAttempts` per result; every attempt is logged.
    case retryStable(maxAttempts: Int)
    /// `/proc/PID/smaps` read like `chromium` reads maps.
    case smaps
    /// The target stopped with ptrace while its maps are read with read(2)
    /// of 64 KiB, then resumed. See `TargetFreeze`.
    case frozen
    /// The read pattern (and check) of a real tool, named after it.
    case tool(ToolProfile)

    /// The smallest and largest request size `read:SIZE` accepts.
    public static let readSizeRange = 1...(4 << 20)
    /// `cat`'s request size (coreutils' 128 KiB I/O block).
    public static let catRequestBytes = 128 << 10
    /// The stdio buffer size glibc picks for procfs: st_blksize is 1024 there,
    /// and a cookie stream cannot know it, so the reader sets it.
    public static let procfsStdioBufferBytes = 1024
    /// Chromium's chunk sizes for a file whose stat size is 0.
    public static let chromiumFirstChunkBytes = 4096
    public static let chromiumNextChunkBytes = 65536

    /// `cat`: read(2) with 128 KiB requests.
    public static let cat = ReaderStrategy.read(bytes: catRequestBytes)

    /// Attempts `retry-stable` makes per result unless told otherwise, and
    /// the range it accepts (two attempts are the fewest that can agree).
    public static let defaultMaxAttempts = 10
    public static let maxAttemptsRange = 2...1000
    /// `frozen`'s read(2) request size.
    public static let frozenRequestBytes = 65536
    /// Every spelling `init(parsing:)` knows (SIZE and N are numbers; the
    /// part in brackets may be left out), each with one line on what that
    /// reader does: the help texts of `record` and `_reader` list these.
    public static let catalog: [(spelling: String, summary: String)] = [
        ("chromium", "Chromium's fread: 4 KiB, then 64 KiB, 1 KiB buffer"),
        ("pmap", "procps pmap: fgets line by line (1 KiB reads)"),
        ("cat", "coreutils cat: read(2) of 128 KiB (= read:131072)"),
        ("read:SIZE", "a read(2) loop of SIZE bytes, 1 to 4194304"),
        ("procmap-query", "one PROCMAP_QUERY ioctl per mapping (Linux 6.11+)"),
        ("retry-stable[:N]", "chromium until two in a row agree, N tries (10)"),
        ("smaps", "/proc/PID/smaps read like chromium (headers judged)"),
        ("frozen", "target stopped with ptrace while read:65536 reads"),
    ] + ToolProfile.allCases.map { ($0.rawValue, $0.summary) }

    /// Every strategy spelling `init(parsing:)` knows, for help texts and the survey.
    public static let names = catalog.map(\.spelling)

    /// The catalog as a two-column table for help texts: each spelling, then
    /// its summary wrapped to `width` columns under the summary column.
    /// ArgumentParser indents an option's discussion by 8 columns and rewraps
    /// lines of 72 or more on an 80-column screen; 70 keeps these lines whole.
    public static func catalogHelp(width: Int = 70) -> String {
        let column = (catalog.map(\.spelling.count).max() ?? 0) + 2
        return catalog.map { entry in
            var lines: [String] = []
            var line = entry.spelling + String(repeating: " ", count: column - entry.spelling.count)
            var lineHasWords = false
            for word in entry.summary.split(separator: " ") {
                if lineHasWords && line.count + 1 + word.count > width {
                    lines.append(line)
                    line = String(repeating: " ", count: column)
                    lineHasWords = false
                }
                line += (lineHasWords ? " " : "") + word
                lineHasWords = true
            }
            lines.append(line)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Parses `chromium`, `pmap`, `cat`, `read:SIZE` (SIZE in bytes),
    /// `procmap-query`, `retry-stable` (or `retry-stable:ATTEMPTS`), `smaps`
    /// or `frozen`, or a tool's name (`ToolProfile`).
    public init(parsing text: String) throws(RecordingError) {
        if let profile = ToolProfile(rawValue: text) {
            self = .tool(profile)
            return
        }
        switch text {
        case "chromium": self = .chromium
        case "pmap": self = .pmap
        case "cat": self = .cat
        case "procmap-query": self = .procmapQuery
        case "retry-stable": self = .retryStable(maxAttempts: Self.defaultMaxAttempts)
        case "smaps": self = .smaps
        case "frozen": self = .frozen
        default:
            if text.hasPrefix("retry-stable:") {
                let attemptsText = text.dropFirst("retry-stable:".count)
                guard let attempts = Int(attemptsText), !attemptsText.hasPrefix("+"),
                    Self.maxAttemptsRange.contains(attempts)
                else {
                    throw .invalidReaderStrategy(
                        text, reason: "ATTEMPTS must be a number from \(Self.maxAttemptsRange.lowerBound) to \(Self.maxAttemptsRange.upperBound)")
                }
                self = .retryStable(maxAttempts: attempts)
                return
            }
            guard text.hasPrefix("read:") else {
                throw .invalidReaderStrategy(
                    text,
                    reason: "expected chromium, pmap, cat, read:SIZE, procmap-query, retry-stable, smaps, frozen or a tool ("
                        + ToolProfile.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            let sizeText = text.dropFirst("read:".count)
            guard let size = Int(sizeText), !sizeText.hasPrefix("+") else {
                throw .invalidReaderStrategy(text, reason: "SIZE must be a number of bytes, like read:4096")
            }
            guard Self.readSizeRange.contains(size) else {
                throw .invalidReaderStrategy(
                    text, reason: "SIZE must be between 1 and \(Self.readSizeRange.upperBound) bytes")
            }
            self = .read(bytes: size)
        }
    }

    /// The name `init(parsing:)` accepts; `cat` is spelled `read:131072`
    /// once parsed, since it is the same syscall pattern. `retry-stable` is
    /// named without its attempt limit (that is in `traceParameters`).
    public var description: String {
        switch self {
        case .chromium: "chromium"
        case .pmap: "pmap"
        case .read(let bytes): "read:\(bytes)"
        case .procmapQuery: "procmap-query"
        case .retryStable: "retry-stable"
        case .smaps: "smaps"
        case .frozen: "frozen"
        case .tool(let profile): profile.rawValue
        }
    }

    /// The spelling that parses back to exactly this strategy, limits
    /// included (`retry-stable:10`): what the reader process is given.
    public var exactSpelling: String {
        switch self {
        case .retryStable(let attempts): "retry-stable:\(attempts)"
        default: description
        }
    }

    /// The name with characters unfit for a file name removed (`read4096`).
    public var fileNameComponent: String {
        switch self {
        case .read(let bytes): "read\(bytes)"
        default: description
        }
    }

    /// The procfs file the strategy reads (`maps` or `smaps`).
    public var procfsFileName: String {
        if case .tool(let profile) = self { return profile.procfsRelativePath.file }
        return self == .smaps ? "smaps" : "maps"
    }

    /// The path the reader opens for each snapshot: `/proc/<pid>/maps`, or
    /// `/proc/<pid>/task/<pid>/maps` for `perf`.
    public func procfsPath(pid: Int32) -> String {
        if case .tool(let profile) = self, profile.procfsRelativePath.pidTwice {
            return "/proc/\(pid)/task/\(pid)/\(procfsFileName)"
        }
        return "/proc/\(pid)/\(procfsFileName)"
    }

    /// What the trace header stores as the reader's parameters.
    public var traceParameters: [TraceParameter] {
        switch self {
        case .chromium:
            [
                TraceParameter("api", "fread"),
                TraceParameter("first_chunk", "\(Self.chromiumFirstChunkBytes)"),
                TraceParameter("next_chunk", "\(Self.chromiumNextChunkBytes)"),
                TraceParameter("stdio_buffer", "\(Self.procfsStdioBufferBytes)"),
            ]
        case .pmap:
            [
                TraceParameter("api", "fgets"),
                TraceParameter("stdio_buffer", "\(Self.procfsStdioBufferBytes)"),
            ]
        case .read(let bytes):
            [TraceParameter("api", "read"), TraceParameter("request", "\(bytes)")]
        case .procmapQuery:
            [
                TraceParameter("api", "ioctl"),
                TraceParameter("ioctl", "PROCMAP_QUERY"),
                TraceParameter("query_flags", "0x\(String(ProcmapQueryFlags.coveringOrNextMapping, radix: 16))"),
                // How a query is stored as a read chunk (docs/recording.md).
                TraceParameter("chunk_requested", "query_address"),
                TraceParameter("chunk_bytes", "rendered_maps_line"),
            ]
        case .retryStable(let attempts):
            ReaderStrategy.chromium.traceParameters + [TraceParameter("max_attempts", "\(attempts)")]
        case .smaps:
            [TraceParameter("file", "smaps")] + ReaderStrategy.chromium.traceParameters
        case .frozen:
            [
                TraceParameter("api", "read"),
                TraceParameter("request", "\(Self.frozenRequestBytes)"),
                TraceParameter("stop", "ptrace_seize_interrupt"),
                TraceParameter("resume", "ptrace_detach"),
            ]
        case .tool(let profile):
            profile.traceParameters
        }
    }
}

// MARK: - Checks before the experiment

extension ReaderStrategy {
    /// Why this strategy cannot read the maps of `pid` on this kernel, asked
    /// before anything is mapped; nil when it can. Only `procmap-query`
    /// depends on the kernel (PROCMAP_QUERY is Linux 6.11+): one query on
    /// the maps of `pid` tells.
    func unusableReason(pid: Int32) -> RecordingError? {
        guard self == .procmapQuery, let reason = ProcmapQueryWalk.unsupportedReason(pid: pid) else { return nil }
        return Self.beforeMapping(procmapQueryFailure: reason)
    }

    /// A kernel without PROCMAP_QUERY is a usage error when the recorder finds
    /// it up front (exit 64: pick another reader), not a reader that failed
    /// mid-recording (23). A maps file that cannot be opened stays exit 21,
    /// any other ioctl failure exit 24.
    static func beforeMapping(procmapQueryFailure reason: RecordingError) -> RecordingError {
        guard case .readerFailed(let message) = reason else { return reason }
        return .invalidReaderStrategy(
            ReaderStrategy.procmapQuery.description, reason: message + "; choose another --reader")
    }
}

// MARK: - The reader's byte buffer

/// How large the reader's byte buffer is (`capacityBytes`, mapped with
/// MAP_NORESERVE) and how much of it is faulted in before the first snapshot
/// (`populatedBytes`: what the recording is expected to use). Bytes past
/// the populated part cost memory only if a recording reaches them.
public struct ReaderBufferPlan: Sendable, Equatable {
    public var capacityBytes: Int
    public var populatedBytes: Int

    public init(capacityBytes: Int, populatedBytes: Int) {
        self.capacityBytes = capacityBytes
        self.populatedBytes = min(populatedBytes, capacityBytes)
    }

    /// The smallest buffer the recorder plans (a few snapshots of a tiny arena).
    public static let minimumCapacityBytes = 1 << 20
}

extension ReaderStrategy {
    /// The most bytes one read(2) may ask for: the reader refuses a read
    /// (bufferFull) unless the buffer has that much room left.
    var largestRequestBytes: Int {
        switch self {
        case .read(let bytes): bytes
        case .chromium, .smaps, .retryStable: Self.chromiumNextChunkBytes
        case .pmap: Self.procfsStdioBufferBytes
        case .frozen: Self.frozenRequestBytes
        // One rendered line: fixed fields, a name of up to PATH_MAX, the newline.
        case .procmapQuery: 96 + ProcmapQueryWalk.nameRoom + 1
        case .tool(let profile): profile.largestRequestBytes
        }
    }

    /// Snapshots the reader is expected to take per result, and at most:
    /// `retry-stable` needs two attempts that agree and may take `maxAttempts`.
    var attemptsPerResult: (expected: Int, most: Int) {
        if case .retryStable(let attempts) = self { return (2, attempts) }
        if case .tool(let profile) = self, profile.attemptsPerResult > 1 {
            // sanitizer's doubling buffers add up to about twice the text.
            return (2, profile.attemptsPerResult)
        }
        return (1, 1)
    }

    /// The byte buffer for `snapshots` results of about `snapshotBytes`
    /// each (the text of the file this strategy reads, `procfsFileName`),
    /// within `limit`: the expected use with a quarter more for torn
    /// snapshots is faulted in; the capacity covers every attempt
    /// `retry-stable` may make, and twice the expected use for the others
    /// (an estimate from before the experiment may be short).
    public func bufferPlan(snapshotBytes: Int, snapshots: Int, limit: Int) -> ReaderBufferPlan {
        func bytes(attempts: Int) -> Int {
            let (perResult, o1) = snapshotBytes.multipliedReportingOverflow(by: attempts)
            let (total, o2) = perResult.multipliedReportingOverflow(by: max(snapshots, 1))
            guard !o1, !o2, total <= Int.max / 2 else { return Int.max / 2 }
            return total / 4 * 5 + largestRequestBytes
        }
        let attempts = attemptsPerResult
        let expected = bytes(attempts: attempts.expected)
        let capacity = max(bytes(attempts: attempts.most), min(expected, Int.max / 4) * 2)
        let bounded = min(max(capacity, ReaderBufferPlan.minimumCapacityBytes), max(limit, 1))
        return ReaderBufferPlan(capacityBytes: bounded, populatedBytes: expected)
    }
}
