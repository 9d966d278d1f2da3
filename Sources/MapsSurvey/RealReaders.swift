import MapsRecorder
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// A real installed program the survey runs, unmodified, as the reader of a
/// built-in workload (`mapsrace record --workload W -- COMMAND`), and the
/// built-in profile whose request pattern it is checked against.
public struct RealReader: Sendable, Equatable {
    /// The survey's reader name (`real-cat`, ...).
    public let name: String
    /// The command line: `{pid}` is the workload's pid (the recorder fills
    /// it in), `{venv}` the private Python environment of tools/psutil-venv.sh,
    /// `{out}` a file next to the trace for the program's own output.
    public let command: [String]
    /// The `--reader` spelling of the profile of the same tool.
    public let profile: String
    /// The file it should read: `maps` or `smaps` (a task path reads the
    /// same text as `maps`; the trace cannot tell them apart).
    public let file: String
    /// Where it comes from (installed by tools/bootstrap.sh).
    public let package: String

    public init(name: String, command: [String], profile: String, file: String, package: String) {
        self.name = name
        self.command = command
        self.profile = profile
        self.file = file
        self.package = package
    }
}

/// The one table of real readers (docs/survey.md, "Real programs").
public enum RealReaders {
    /// Every real reader's name starts with this.
    public static let prefix = "real-"
    public static let table: [RealReader] = [
        RealReader(
            name: "real-cat", command: ["cat", "/proc/{pid}/maps"], profile: "cat", file: "maps",
            package: "coreutils"),
        RealReader(
            name: "real-pmap", command: ["pmap", "{pid}"], profile: "pmap", file: "maps", package: "procps"),
        RealReader(
            name: "real-python3", command: ["/usr/bin/python3", "-c", "open('/proc/{pid}/maps').read()"],
            profile: "psutil", file: "maps", package: "python3"),
        RealReader(
            name: "real-psutil",
            command: ["{venv}/bin/python3", "-c", "import psutil; psutil.Process({pid}).memory_maps()"],
            profile: "psutil", file: "smaps", package: "psutil (PyPI, tools/psutil-venv.sh)"),
        RealReader(
            name: "real-eu-stack", command: ["eu-stack", "-p", "{pid}"], profile: "pmap", file: "maps",
            package: "elfutils"),
        RealReader(
            name: "real-gdb", command: ["gdb", "-batch", "-nx", "-p", "{pid}", "-ex", "info proc mappings"],
            profile: "gdb", file: "maps", package: "gdb"),
        RealReader(
            name: "real-perf",
            command: ["perf", "record", "-q", "-o", "{out}", "-p", "{pid}", "--", "sleep", "0.01"],
            profile: "perf", file: "maps", package: "linux-perf"),
    ]

    /// Every real reader's name, in table order.
    public static var names: [String] { table.map(\.name) }

    public static func named(_ name: String) -> RealReader? { table.first { $0.name == name } }

    /// Where tools/psutil-venv.sh puts the virtual environment:
    /// `$MAPSRACE_VENV`, else `$HOME/.cache/mapsrace/venv`.
    public static var virtualEnvironment: String {
        if let path = getenv("MAPSRACE_VENV"), path.pointee != 0 { return String(cString: path) }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
        return home + "/.cache/mapsrace/venv"
    }
}

extension RealReader {
    /// The command with `{venv}` and `{out}` filled in (`{pid}` is left to
    /// the recorder).
    public func commandLine(output: String) -> [String] {
        command.map {
            $0.replacing("{venv}", with: RealReaders.virtualEnvironment).replacing("{out}", with: output)
        }
    }

    /// Why it cannot run here, nil when its program is installed.
    public func missingProgram() -> String? {
        let program = commandLine(output: "/dev/null")[0]
        if program.contains("/") {
            return access(program, X_OK) == 0 ? nil : "\(program) is not installed (\(package))"
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where access(String(directory) + "/" + program, X_OK) == 0 {
            return nil
        }
        return "\(program) is not on PATH (\(package))"
    }
}

/// How a real program's recorded requests compare with the profile of the
/// same tool: each read's size against what the profile would have asked
/// after the bytes the program had received so far, its offset against the
/// bytes before it, and the file's text (maps or smaps).
public struct PatternVerdict: Sendable, Equatable {
    public var profile: String
    /// Snapshots and reads compared.
    public var snapshots: Int
    public var reads: Int
    /// The first reads' request sizes of the first snapshot (at most 6).
    public var firstRequests: [UInt64]
    /// nil when every read matched; else how the first mismatch differs.
    public var difference: String?

    public var matches: Bool { difference == nil && snapshots > 0 }

    /// `matches` or `differs: ...` (table cell and text output).
    public var summary: String {
        if snapshots == 0 { return "no snapshot to compare" }
        return difference.map { "differs: " + $0 } ?? "matches"
    }
}

/// The request sizes a profile asks for, replayed against the sizes a
/// program's reads actually returned.
public enum RequestRule: Sendable, Equatable {
    case fixed(Int)
    case pythonReadAll
    /// gdb: pread64 of the buffer's free part less `padding`; the buffer
    /// (`first` bytes) doubles whenever it is more than half full.
    case preadGrowing(first: Int, padding: Int)

    /// The rule of a `--reader` spelling, nil when the profile's requests
    /// depend on more than the bytes returned so far (line buffers,
    /// reopening, Go's size classes, a fill-once buffer).
    public init?(profile: String) {
        guard let strategy = try? ReaderStrategy(parsing: profile) else { return nil }
        switch strategy {
        case .read(let bytes): self = .fixed(bytes)
        case .pmap: self = .fixed(ReaderStrategy.procfsStdioBufferBytes)
        case .tool(let tool):
            switch tool.readPattern {
            case .fixed(let bytes): self = .fixed(bytes)
            case .pythonReadAll: self = .pythonReadAll
            case .preadGrowing(let first, let padding): self = .preadGrowing(first: first, padding: padding)
            default: return nil
            }
        default: return nil
        }
    }

    /// The request sizes of one snapshot whose reads returned `returns`.
    func requests(returns: [Int64]) -> [UInt64] {
        switch self {
        case .fixed(let bytes):
            return returns.map { _ in UInt64(bytes) }
        case .pythonReadAll:
            var size = PythonReadAllGrowth.first
            var length = 0
            var requests: [UInt64] = []
            for returned in returns {
                if length >= size { size = PythonReadAllGrowth.next(after: length) }
                requests.append(UInt64(size - length))
                length += Int(max(returned, 0))
            }
            return requests
        case .preadGrowing(let first, let padding):
            var allocated = first
            var position = 0
            var requests: [UInt64] = []
            for returned in returns {
                requests.append(UInt64(allocated - position - padding))
                position += Int(max(returned, 0))
                if allocated < position * 2 { allocated *= 2 }
            }
            return requests
        }
    }
}

public enum RequestPatternCheck {
    /// Compares the snapshots' reads (each snapshot's chunks in order) with
    /// `profile`'s rule and `file`.
    public static func compare(snapshots: [[ReadChunk]], profile: String, file: String) -> PatternVerdict {
        var verdict = PatternVerdict(
            profile: profile, snapshots: snapshots.count, reads: snapshots.reduce(0) { $0 + $1.count },
            firstRequests: Array((snapshots.first ?? []).prefix(6).map(\.requested)), difference: nil)
        guard let rule = RequestRule(profile: profile) else {
            verdict.difference = "profile \(profile) has no request rule to compare with"
            return verdict
        }
        for (index, chunks) in snapshots.enumerated() {
            let expected = rule.requests(returns: chunks.map(\.returned))
            var offset: UInt64 = 0
            for (number, chunk) in chunks.enumerated() {
                if chunk.offset != offset {
                    verdict.difference = "snapshot \(index) read \(number) at offset \(chunk.offset), not \(offset)"
                    return verdict
                }
                if chunk.requested != expected[number] {
                    verdict.difference =
                        "snapshot \(index) read \(number) asked \(chunk.requested) bytes, \(profile) asks \(expected[number])"
                    return verdict
                }
                offset += UInt64(max(chunk.returned, 0))
            }
            let isSmaps = containsSmapsField(chunks)
            if isSmaps != (file == "smaps") {
                verdict.difference = "snapshot \(index) read \(isSmaps ? "smaps" : "maps"), expected \(file)"
                return verdict
            }
        }
        return verdict
    }

    /// Whether the text holds an smaps field line (`Size:`).
    static func containsSmapsField(_ chunks: [ReadChunk]) -> Bool {
        let needle = Array("\nSize:".utf8)
        var text: [UInt8] = []
        for chunk in chunks { text += chunk.bytes }
        guard text.count >= needle.count else { return false }
        for start in 0...(text.count - needle.count) where text[start] == needle[0] {
            if Array(text[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    /// The read chunks of every snapshot of a trace, by snapshot index.
    public static func snapshotChunks(trace: String) throws(TraceError) -> [[ReadChunk]] {
        let reader = try TraceReader(path: trace)
        var bySnapshot: [UInt32: [ReadChunk]] = [:]
        var order: [UInt32] = []
        while let record = try reader.next() {
            switch record {
            case .snapshotBegin(let begin):
                if bySnapshot[begin.index] == nil { order.append(begin.index); bySnapshot[begin.index] = [] }
            case .readChunk(let chunk):
                if bySnapshot[chunk.snapshot] == nil { order.append(chunk.snapshot) }
                bySnapshot[chunk.snapshot, default: []].append(chunk)
            default: break
            }
        }
        return order.map { index in (bySnapshot[index] ?? []).sorted { $0.sequence < $1.sequence } }
    }
}
