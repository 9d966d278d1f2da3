// Helpers for the tracer's tests: a scratch directory, C programs compiled
// into it, and the built `mapsrace` run the way a user runs it.

import Foundation
import MapsTestSupport
import MapsTrace
import Testing

/// The `mapsrace` executable (MapsTestSupport finds it).
func mapsraceBinary() throws -> String { try MapsraceBinary.required() }

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

struct ToolRun {
    var status: Int32
    var output: String
    var error: String
}

/// A directory for one test, removed with everything in it.
final class Workspace {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "mapsrace-tracer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Compiles tools/test-programs/NAME.c (or the C source at `source`) into NAME.
    @discardableResult
    func compile(_ name: String, source: String? = nil, flags: [String] = []) throws -> String {
        let input = source ?? packageRoot + "/tools/test-programs/\(name).c"
        let output = file(name)
        let run = try Workspace.run("/usr/bin/env", ["cc", "-O2", "-o", output, input, "-lpthread"] + flags, in: path)
        try #require(run.status == 0, "cc \(input) failed: \(run.error)")
        return output
    }

    /// Runs `mapsrace ARGUMENTS` in this directory.
    func mapsrace(_ arguments: [String], environment: [String: String] = [:]) throws -> ToolRun {
        try Workspace.run(try mapsraceBinary(), arguments, in: path, environment: environment)
    }

    func mapsrace(_ arguments: String...) throws -> ToolRun { try mapsrace(arguments) }

    /// Runs `executable arguments` here (MapsTestSupport's runProgram: a
    /// waitpid of that one child, so another test's children never confuse it).
    static func run(
        _ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]
    ) throws -> ToolRun {
        let run = try runProgram(
            executable, arguments, in: directory, environment: environment.map { "\($0.key)=\($0.value)" })
        return ToolRun(status: run.exitCode, output: run.standardOutput, error: run.standardError)
    }
}

/// Every record of a trace file.
func records(of path: String) throws -> (records: [TraceRecord], completion: TraceCompletion) {
    let reader = try TraceReader(path: path)
    var all: [TraceRecord] = []
    while let record = try reader.next() { all.append(record) }
    return (all, reader.completion)
}

extension Array where Element == TraceRecord {
    var syscalls: [TracedSyscall] { compactMap { if case .traced(.syscall(let s)) = $0 { s } else { nil } } }
    var processes: [TracedProcess] { compactMap { if case .traced(.process(let p)) = $0 { p } else { nil } } }
    var sources: [SnapshotSource] { compactMap { if case .traced(.snapshotSource(let s)) = $0 { s } else { nil } } }
    var chunks: [ReadChunk] { compactMap { if case .readChunk(let c) = $0 { c } else { nil } } }
    var ends: [SnapshotEnd] { compactMap { if case .snapshotEnd(let e) = $0 { e } else { nil } } }
    var trailer: TraceTrailer? { compactMap { if case .trailer(let t) = $0 { t } else { nil } }.first }
    var header: TraceHeader? { compactMap { if case .header(let h) = $0 { h } else { nil } }.first }
    var forks: [TracedFork] { compactMap { if case .traced(.fork(let f)) = $0 { f } else { nil } } }
    var execs: [TracedExec] { compactMap { if case .traced(.exec(let e)) = $0 { e } else { nil } } }
    var fileIdentities: [TracedFileIdentity] {
        compactMap { if case .traced(.fileIdentity(let f)) = $0 { f } else { nil } }
    }

    /// Each snapshot's bytes, by index.
    var snapshotTexts: [Int: [UInt8]] {
        var texts: [Int: [UInt8]] = [:]
        for chunk in chunks { texts[Int(chunk.snapshot), default: []] += chunk.bytes }
        return texts
    }
}

func parseJSON(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
}
