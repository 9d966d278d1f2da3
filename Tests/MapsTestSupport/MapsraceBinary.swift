// Runs the built `mapsrace` executable, the way a user does; shared by every
// test target that needs it.
//
// The binary is found, in order: $MAPSRACE_BINARY; then next to the test
// bundle (`swift build --build-tests` / `swift test` put both in the same
// directory, the one `swift build --show-bin-path` prints).

import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// A test-support failure (no binary, no temporary directory), thrown so
/// that the calling test fails with the reason.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum MapsraceBinary {
    public static var path: String? {
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

    /// `path`, or an error that says how to get one.
    public static func required() throws -> String {
        guard let path else { throw TestSupportError("build mapsrace first (swift build) or set MAPSRACE_BINARY") }
        return path
    }
}

/// A started `mapsrace` process with its stdout and stderr going to files.
public struct RunningMapsrace {
    public let pid: pid_t
    public let stdoutPath: String
    public let stderrPath: String

    /// Starts `mapsrace arguments` in `directory` with `environment`
    /// (NAME=VALUE) as its whole environment, no signal blocked.
    public static func start(
        _ arguments: [String], in directory: String, environment: [String] = []
    ) throws -> RunningMapsrace {
        let binary = try MapsraceBinary.required()
        let stdoutPath = directory + "/stdout"
        let stderrPath = directory + "/stderr"
        // env -i -C changes directory and sets the environment, then execs
        // mapsrace in the same process.
        let spawn = PreparedSpawn(
            executable: "/usr/bin/env", arguments: ["-i", "-C", directory] + environment + [binary] + arguments,
            fileActions: [
                .open(fd: 1, path: stdoutPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                .open(fd: 2, path: stderrPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            ],
            stopSignals: .defaultAndUnblocked)
        switch spawn.spawn() {
        case .success(let pid): return RunningMapsrace(pid: pid, stdoutPath: stdoutPath, stderrPath: stderrPath)
        case .failure(let code): throw TestSupportError("spawn of \(binary): \(code.text)")
        }
    }

    /// Waits for the process; its exit status (128 + signal if killed).
    public func wait() -> Int32 {
        switch waitForProcess(pid) {
        case .success(let status?): status.shellStatus
        default: -1
        }
    }

    public var standardOutput: String { readText(stdoutPath) }
    public var standardError: String { readText(stderrPath) }
}

public struct MapsraceRun {
    public var exitCode: Int32
    public var standardOutput: String
    public var standardError: String

    public init(exitCode: Int32, standardOutput: String, standardError: String) {
        self.exitCode = exitCode
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
}

/// Runs `mapsrace arguments` in `directory` to its end.
public func runMapsrace(_ arguments: [String], in directory: String, environment: [String] = []) throws -> MapsraceRun {
    let process = try RunningMapsrace.start(arguments, in: directory, environment: environment)
    let code = process.wait()
    return MapsraceRun(exitCode: code, standardOutput: process.standardOutput, standardError: process.standardError)
}

/// A file's text, "" if it cannot be read.
public func readText(_ path: String) -> String {
    guard case .success(let bytes) = readWholeFile(path) else { return "" }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes an executable script at `path`. The descriptor is opened with
/// O_CLOEXEC and closed before this returns: tests run in parallel, and a
/// program another test spawns while a write descriptor to the script is open
/// would otherwise keep it open for its whole life, so that executing the
/// script fails with ETXTBSY ("Text file busy"), as Foundation's
/// `write(toFile:)` once made a survey test fail.
public func writeExecutableScript(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw TestSupportError("cannot create \(path): \(Errno.afterFailedCall.text)") }
    defer { close(fd) }
    let written = Array(text.utf8).withUnsafeBytes { writeAll(fd, $0) }
    if case .failure(let error) = written { throw TestSupportError("cannot write \(path): \(error.text)") }
}

/// A fresh directory under /tmp named after `purpose`, removed by `removeTemporaryDirectory`.
public func makeTemporaryDirectory(_ purpose: String = "recorder") throws -> String {
    var template = Array("/tmp/mapsrace-\(purpose)-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard made != nil else { throw TestSupportError("mkdtemp failed: \(Errno.afterFailedCall.text)") }
    return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Removes a directory made by `makeTemporaryDirectory` and the files in it.
public func removeTemporaryDirectory(_ path: String) {
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

/// A finished program: exit status (128 + signal if killed), standard output
/// and standard error.
public struct ProgramRun {
    public var exitCode: Int32
    public var standardOutput: String
    public var standardError: String
}

/// Runs `executable arguments` in `directory` to its end, with this process's
/// environment plus `environment` (NAME=VALUE), standard input from
/// /dev/null, and its output in files of the directory named uniquely per
/// run. PreparedSpawn and a waitpid of that one pid: no run loop or SIGCHLD
/// handler shared with the other tests of the process.
public func runProgram(
    _ executable: String, _ arguments: [String], in directory: String, environment: [String] = []
) throws -> ProgramRun {
    let name = "\(getpid())-\(currentThreadID)-\(MonotonicClock.now())"
    let stdoutPath = directory + "/.stdout-" + name
    let stderrPath = directory + "/.stderr-" + name
    defer {
        unlink(stdoutPath)
        unlink(stderrPath)
    }
    // env -C changes directory and adds the variables, then execs the program in the same process.
    let spawn = PreparedSpawn(
        executable: "/usr/bin/env", arguments: ["-C", directory] + environment + [executable] + arguments,
        fileActions: [
            .open(fd: 0, path: "/dev/null", flags: O_RDONLY, mode: 0),
            .open(fd: 1, path: stdoutPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            .open(fd: 2, path: stderrPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
        ],
        stopSignals: .defaultAndUnblocked)
    let pid: pid_t
    switch spawn.spawn() {
    case .success(let spawned): pid = spawned
    case .failure(let code): throw TestSupportError("spawn of \(executable): \(code.text)")
    }
    let exitCode: Int32 =
        switch waitForProcess(pid) {
        case .success(let status?): status.shellStatus
        default: -1
        }
    return ProgramRun(exitCode: exitCode, standardOutput: readText(stdoutPath), standardError: readText(stderrPath))
}
