// Runs the built `mapsrace` executable, the way a user does.
//
// The binary is found, in order: $MAPSRACE_BINARY; then next to the test
// bundle (`swift build --build-tests` / `swift test` put both in the same
// directory, the one `swift build --show-bin-path` prints).

import MapsTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum MapsraceBinary {
    static var path: String? {
        if let override = getenv("MAPSRACE_BINARY") {
            return String(cString: override)
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let bundle = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = bundle.lastIndex(of: "/") else { return nil }
        let candidate = String(bundle[..<slash]) + "/mapsrace"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }
}

/// A started `mapsrace` process with its stdout and stderr going to files.
struct RunningMapsrace {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String

    static func start(_ arguments: [String], in directory: String) throws -> RunningMapsrace {
        let binary = try #require(MapsraceBinary.path, "build mapsrace first (swift build) or set MAPSRACE_BINARY")
        let stdoutPath = directory + "/stdout"
        let stderrPath = directory + "/stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // env -C changes directory, then execs mapsrace in the same process.
        let argv = (["/usr/bin/env", "-C", directory, binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The runner's threads may block signals; the child gets a clean slate.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, nil)
        try #require(result == 0, "posix_spawn \(binary): \(result)")
        return RunningMapsrace(pid: pid, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    /// Waits for the process; its exit code (128 + signal if killed).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    var standardOutput: String { readText(stdoutPath) }
    var standardError: String { readText(stderrPath) }
}

struct MapsraceRun {
    var exitCode: Int32
    var standardOutput: String
    var standardError: String
}

func runMapsrace(_ arguments: [String], in directory: String) throws -> MapsraceRun {
    let process = try RunningMapsrace.start(arguments, in: directory)
    let code = process.wait()
    return MapsraceRun(exitCode: code, standardOutput: process.standardOutput, standardError: process.standardError)
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A fresh directory under /tmp, removed by `removeTemporaryDirectory`.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/mapsrace-recorder-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    try #require(made != nil, "mkdtemp failed")
    return String(cString: template)
}

func removeTemporaryDirectory(_ path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { unlink(path + "/" + name) }
    }
    closedir(directory)
    rmdir(path)
}

/// Every record of a trace, with how it ended.
struct LoadedTrace {
    var records: [TraceRecord]
    var completion: TraceCompletion

    init(path: String) throws {
        let reader = try TraceReader(path: path)
        var records: [TraceRecord] = []
        while let record = try reader.next() { records.append(record) }
        self.records = records
        completion = reader.completion
    }

    var header: TraceHeader? {
        for case .header(let header) in records { return header }
        return nil
    }
    var arena: ArenaRecord? {
        for case .arena(let arena) in records { return arena }
        return nil
    }
    var mutations: [MutationRecord] {
        records.compactMap { if case .mutation(let mutation) = $0 { mutation } else { nil } }
    }
    var chunks: [ReadChunk] {
        records.compactMap { if case .readChunk(let chunk) = $0 { chunk } else { nil } }
    }
    var snapshotEnds: [SnapshotEnd] {
        records.compactMap { if case .snapshotEnd(let end) = $0 { end } else { nil } }
    }
    func quiescent(_ role: QuiescentRole) -> QuiescentMaps? {
        for case .quiescentMaps(let maps) in records where maps.role == role { return maps }
        return nil
    }
    var trailer: TraceTrailer? {
        for case .trailer(let trailer) in records { return trailer }
        return nil
    }
}
