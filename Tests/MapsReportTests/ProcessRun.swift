import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A finished process: exit code, standard output and standard error.
struct ProcessRun {
    var exitCode: Int32
    var standardOutput: String
    var standardError: String

    /// Runs `arguments` (the first found on PATH) with `timeout` seconds at
    /// most (coreutils `timeout`), output to files in `directory`.
    static func run(_ arguments: [String], in directory: String, timeout seconds: Int = 60) throws -> ProcessRun {
        let stdoutPath = directory + "/process.stdout"
        let stderrPath = directory + "/process.stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = (["timeout", "--kill-after=5", "\(seconds)"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, "timeout", &actions, nil, argv, environ)
        try #require(result == 0, "posix_spawnp timeout \(arguments.first ?? ""): \(result)")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return ProcessRun(
            exitCode: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            standardOutput: text(stdoutPath), standardError: text(stderrPath))
    }
}

/// The project's chromium (tools/bootstrap.sh installs Debian's `chromium`).
func chromiumPath() throws -> String {
    let candidates: [String] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    return try #require(
        candidates.first { (path: String) in access(path, X_OK) == 0 },
        "no chromium: run tools/bootstrap.sh (tools/test.sh does), which installs Debian's chromium")
}

/// The repository's root (for tools/).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
