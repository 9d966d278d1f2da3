import ArgumentParser
import MapsTrace
import MapsTracer

#if canImport(Glibc)
import Glibc
#endif

/// `mapsrace _traced-exec PATH ARGV...`: the stub `record -- CMD` starts.
/// It installs the seccomp filter, stops itself until the tracer has seized
/// it, then execs the command. Not for direct use.
struct TracedExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_traced-exec",
        abstract: "Internal: the traced command's first process (record -- CMD).",
        shouldDisplay: false
    )

    @Argument(help: "The command's absolute path.")
    var path: String

    @Argument(parsing: .captureForPassthrough, help: "Its argv, argv[0] first.")
    var arguments: [String] = []

    func run() throws {
        throw ExitCode(TracedExecStub.run(path: path, arguments: arguments))
    }
}

/// The summary `record -- CMD` prints.
func describeTraced(_ summary: TracedRecordingSummary) -> String {
    func megabytes(_ bytes: UInt64) -> String {
        let tenths = (bytes + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
    var lines = [
        "command       \(summary.command.joined(separator: " ")): \(summary.commandStatus)",
        "traced        \(summary.processes.count) process(es), \(summary.tracedSyscalls) traced syscalls "
            + "(\(summary.mutations) mutations, \(summary.fastPathSyscalls) by the fast path) in \(summary.tracedNs / 1_000_000) ms",
    ]
    for process in summary.processes {
        var roles: [String] = []
        if process.roles.contains(.reader) { roles.append("read maps") }
        if process.roles.contains(.read) { roles.append("its maps were read") }
        if process.roles.contains(.mutator) { roles.append("mutated") }
        lines.append(
            "  pid \(process.pid)" + (process.parentPID != 0 ? " (child of \(process.parentPID))" : "")
                + " \(process.command.isEmpty ? "-" : process.command): "
                + (roles.isEmpty ? "no maps role" : roles.joined(separator: ", ")))
    }
    lines.append(
        "reader        \(summary.snapshots) snapshots, \(summary.reads) reads, \(megabytes(summary.bytesRead)) read")
    if summary.procmapQueries > 0 {
        lines.append(
            "PROCMAP_QUERY \(summary.procmapQueries) queries: \(summary.procmapWalkQueries) in walks (snapshots), "
                + "\(summary.procmapQueries - summary.procmapWalkQueries) single (logged, not judged)")
    }
    lines.append(
        "judged        address space of pid \(summary.targetPID) (exec \(summary.targetGeneration)), modeled range "
            + "0x\(String(summary.arena.start, radix: 16))-0x\(String(summary.arena.end, radix: 16))")
    lines.append("trace         \(summary.trace) (\(megabytes(summary.traceBytes)))")
    if case .signal(let signal) = summary.stop { lines.append("interrupted   by signal \(signal): tracees killed") }
    return lines.joined(separator: "\n")
}

/// The JSON `record --json -- CMD` prints (docs/record-json.md).
func tracedJSON(_ summary: TracedRecordingSummary) -> String {
    let quoted = JSONOutput.quoted
    let processes = summary.processes.map { p in
        "{\"pid\":\(p.pid),\"parent_pid\":\(p.parentPID),\"command\":\(quoted(p.command)),"
            + "\"read_maps\":\(p.roles.contains(.reader)),\"maps_read\":\(p.roles.contains(.read)),"
            + "\"mutated\":\(p.roles.contains(.mutator)),\"wait_status\":\(p.waitStatus),\"execs\":\(p.execs)}"
    }
    let interrupted: Bool = if case .signal = summary.stop { true } else { false }
    return "{\"trace\":\(quoted(summary.trace)),\"trace_bytes\":\(summary.traceBytes),"
        + "\"command\":[\(summary.command.map(quoted).joined(separator: ","))],"
        + "\"command_status\":\(quoted(summary.commandStatus)),\"wait_status\":\(summary.waitStatus),"
        + "\"processes\":[\(processes.joined(separator: ","))],"
        + "\"snapshots\":\(summary.snapshots),\"reads\":\(summary.reads),\"bytes_read\":\(summary.bytesRead),"
        + "\"mutations\":\(summary.mutations),\"traced_syscalls\":\(summary.tracedSyscalls),\"fast_path_syscalls\":\(summary.fastPathSyscalls),"
        + "\"procmap_queries\":\(summary.procmapQueries),\"procmap_walk_queries\":\(summary.procmapWalkQueries),"
        + "\"target_pid\":\(summary.targetPID),\"target_generation\":\(summary.targetGeneration),"
        + "\"modeled_start\":\(summary.arena.start),\"modeled_end\":\(summary.arena.end),"
        + "\"interrupted\":\(interrupted),\"traced_ns\":\(summary.tracedNs)}"
}

/// The reader process of `record --workload W -- CMD {pid}`: runs CMD under
/// the tracer once per snapshot and hands the snapshots over. Not for direct use.
struct TracedReaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_traced-reader",
        abstract: "Internal: the traced external reader of record --workload W -- CMD.",
        shouldDisplay: false
    )

    @Option var pid: Int32
    @Option var snapshots: Int
    @Option var logFd: Int32
    @Option var readyFd: Int32
    @Argument(parsing: .postTerminator) var command: [String] = []

    func run() throws {
        try reportingFailures {
            try runTracedReader(targetPID: pid, snapshots: snapshots, logFD: logFd, readyFD: readyFd, command: command)
        }
    }
}
