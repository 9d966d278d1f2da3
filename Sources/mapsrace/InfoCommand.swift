import ArgumentParser
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Summarise a trace: machine, experiment, record counts, time span, and whether it is complete.",
        discussion: """
            Reads every record once (checksums verified). A truncated trace is summarised as far as \
            it can be read, then reported on stderr with exit code 13.
            """
    )

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Flag(help: "Print one JSON object (keys: docs/info-json.md).")
    var json = false

    func run() throws {
        let summary = try reportingFailures(about: trace) { try TraceSummary.read(path: trace) }
        print(json ? InfoJSON(summary).text : InfoText(summary, path: trace).text)
        if case .truncated = summary.completion {
            try exitForTruncation(of: trace, completion: summary.completion)
        }
    }
}

/// The JSON object of `mapsrace info --json`, keys in the documented order.
struct InfoJSON {
    let text: String

    init(_ summary: TraceSummary) {
        let header = summary.header
        var object = JSONObject()
        object.add("format_version", header.map { .number(String($0.formatVersion)) })
        object.add("tool_version", header.map { .string($0.toolVersion) })
        object.add("kernel_release", header.map { .string($0.kernelRelease) })
        object.add("kernel_version", header.map { .string($0.kernelVersion) })
        object.add("machine", header.map { .string($0.machine) })
        object.add("page_size", header.map { .number(String($0.pageSize)) })
        object.add("clock_resolution_ns", header.map { .number(String($0.clockResolutionNs)) })
        object.add("start_wall_clock", header.map { .string(iso8601(nanosecondsSinceEpoch: $0.startWallClockNs)) })
        object.add("workload", header.map { .string($0.workload) })
        object.add("workload_parameters", header.map { .object(parameters($0.workloadParameters)) })
        object.add("reader", header.map { .string($0.reader) })
        object.add("reader_parameters", header.map { .object(parameters($0.readerParameters)) })
        object.add("seed", header.map { .number(String($0.seed)) })
        object.add("pages", header?.pages.map { .number(String($0)) })
        object.add("mutator_pid", header.map { .number(String($0.mutatorPID)) })
        object.add("reader_pid", header.map { .number(String($0.readerPID)) })
        object.add("arena_start", summary.arena.map { .string(hexAddress($0.start)) })
        object.add("arena_end", summary.arena.map { .string(hexAddress($0.end)) })
        object.add("mutations", .number(String(summary.mutations)))
        object.add("snapshots", .number(String(summary.snapshots)))
        object.add("reads", .number(String(summary.readChunks)))
        object.add("bytes_read", .number(String(summary.bytesRead)))
        object.add("quiescent_maps", .number(String(summary.quiescentMaps)))
        object.add("duration_ns", summary.durationNs.map { .number(String($0)) })
        object.add("mutator_loop_ns", summary.mutatorLoopNs.map { .number(String($0)) })
        object.add("complete", .bool(summary.isComplete))
        object.add("truncated", .bool(summary.truncation != nil))
        object.add("interrupted", .bool(summary.interrupted))
        object.add("compressed_bytes", .number(String(summary.compressedBytes)))
        // Version 2, `record -- CMD`: the processes the tracer followed.
        object.add("traced_syscalls", .number(String(summary.tracedSyscalls)))
        object.add("address_space_maps", .number(String(summary.addressSpaceMaps)))
        object.add("procmap_queries", .number(String(summary.procmapQueries)))
        object.add("procmap_walk_queries", .number(String(summary.procmapQueriesInWalks)))
        object.add("shared_memory_attaches", .number(String(summary.sharedMemoryAttaches)))
        object.add("anonymous_names", .number(String(summary.anonymousNames)))
        object.add("processes", .array(summary.processes.map { process in
            var entry = JSONObject()
            entry.add("pid", .number(String(process.pid)))
            entry.add("parent_pid", .number(String(process.parentPID)))
            entry.add("command", .string(process.command))
            entry.add("read_maps", .bool(process.roles.contains(.reader)))
            entry.add("maps_read", .bool(process.roles.contains(.read)))
            entry.add("mutated", .bool(process.roles.contains(.mutator)))
            entry.add("wait_status", .number(String(process.waitStatus)))
            entry.add("execs", .number(String(process.execs)))
            return .object(entry)
        }))
        text = object.rendered
    }
}

/// The human summary: one screen, labels aligned.
struct InfoText {
    let text: String

    init(_ summary: TraceSummary, path: String) {
        var rows: [(String, String)] = [("trace", path)]
        if let header = summary.header {
            rows.append(("format", "version \(header.formatVersion), written by mapsrace \(header.toolVersion)"))
            rows.append(("kernel", "\(header.kernelRelease) \(header.kernelVersion) (\(header.machine))"))
            rows.append(("page size", "\(header.pageSize) bytes"))
            rows.append(("clock", "CLOCK_MONOTONIC, resolution \(header.clockResolutionNs) ns"))
            rows.append(("recorded", iso8601(nanosecondsSinceEpoch: header.startWallClockNs)))
            rows.append(("workload", described(header.workload, header.workloadParameters)))
            rows.append(("reader", described(header.reader, header.readerParameters)))
            rows.append(("seed", String(header.seed)))
            rows.append(("processes", "mutator \(header.mutatorPID), reader \(header.readerPID)"))
        }
        if let arena = summary.arena {
            let pages = summary.header.map { arena.end > arena.start ? (arena.end - arena.start) / max($0.pageSize, 1) : 0 }
            rows.append(("arena", "\(hexAddress(arena.start))-\(hexAddress(arena.end))"
                + (pages.map { " (\($0) pages)" } ?? "")))
        }
        if !summary.processes.isEmpty {
            rows.append(("command", summary.header?.workloadParameters[parameter: "command"] ?? "-"))
            rows.append(("traced", "\(summary.tracedSyscalls) syscalls, \(summary.execs) execs, \(summary.forks) forks, "
                + "\(summary.addressSpaceMaps) quiescent reads of address spaces"))
            if summary.procmapQueries > 0 {
                let single = summary.procmapQueries - summary.procmapQueriesInWalks
                rows.append(("PROCMAP_QUERY", "\(summary.procmapQueries) queries: \(summary.procmapQueriesInWalks) in walks "
                    + "(snapshots), \(single) single (logged, not judged)"))
            }
            if summary.sharedMemoryAttaches > 0 || summary.anonymousNames > 0 {
                rows.append(("segments, names", "\(summary.sharedMemoryAttaches) SysV shm attaches, "
                    + "\(summary.anonymousNames) anonymous-name prctls (what their maps lines show)"))
            }
            for process in summary.processes {
                var roles: [String] = []
                if process.roles.contains(.reader) { roles.append("read maps") }
                if process.roles.contains(.read) { roles.append("its maps were read") }
                if process.roles.contains(.mutator) { roles.append("mutated") }
                let status = process.waitStatus < 0 ? "not reaped"
                    : process.waitStatus & 0x7f == 0 ? "exit \((process.waitStatus >> 8) & 0xff)"
                    : "signal \(process.waitStatus & 0x7f)"
                rows.append((
                    "  pid \(process.pid)",
                    (process.command.isEmpty ? "-" : process.command)
                        + (process.parentPID != 0 ? " (child of \(process.parentPID))" : "")
                        + ": " + (roles.isEmpty ? "no maps role" : roles.joined(separator: ", ")) + "; \(status)"))
            }
        }
        rows.append(("mutations", String(summary.mutations)))
        rows.append(("snapshots", "\(summary.snapshots) (\(summary.readChunks) reads, \(summary.bytesRead) bytes)"))
        rows.append(("quiescent maps", String(summary.quiescentMaps)))
        if summary.unknownRecords > 0 {
            rows.append(("skipped", "\(summary.unknownRecords) records of kinds this version does not know"))
        }
        rows.append(("time span", summary.durationNs.map(milliseconds) ?? "no timestamps"))
        if let loop = summary.mutatorLoopNs { rows.append(("mutator loop", milliseconds(loop))) }
        rows.append(("size", "\(summary.compressedBytes) bytes compressed, \(summary.rawBytes) raw, \(summary.blocks) blocks"))
        rows.append(("status", status(summary)))

        let width = rows.map(\.0.count).max() ?? 0
        text = rows.map { label, value in
            label + String(repeating: " ", count: width - label.count) + "  " + value
        }.joined(separator: "\n")
    }
}

private func status(_ summary: TraceSummary) -> String {
    switch summary.completion {
    case .complete:
        guard let trailer = summary.trailer, trailer.interrupted else { return "complete" }
        return "complete, recording interrupted" + (trailer.signal != 0 ? " by signal \(trailer.signal)" : "")
    case .missingTrailer:
        return "incomplete: no trailer (the recorder did not finish)"
    case .truncated(let cut):
        return "truncated at byte \(cut.byteOffset): \(cut.blocksRecovered) blocks, \(cut.recordsRecovered) records recovered"
    }
}

private func described(_ name: String, _ parameters: [TraceParameter]) -> String {
    parameters.isEmpty ? name : name + " " + parameters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
}

private func milliseconds(_ ns: UInt64) -> String {
    let tenthsOfMicroseconds = ns / 100
    let whole = tenthsOfMicroseconds / 10_000, fraction = tenthsOfMicroseconds % 10_000
    let digits = String(fraction)
    return "\(whole).\(String(repeating: "0", count: 4 - digits.count))\(digits) ms (\(ns) ns)"
}

private func hexAddress(_ address: UInt64) -> String { "0x" + String(address, radix: 16) }

private func parameters(_ list: [TraceParameter]) -> JSONObject {
    var object = JSONObject()
    for parameter in list where !object.keys.contains(parameter.key) {
        object.add(parameter.key, .string(parameter.value))
    }
    return object
}

/// UTC, with nanoseconds: 2025-10-09T12:34:56.123456789Z.
private func iso8601(nanosecondsSinceEpoch ns: Int64) -> String {
    let (secondsQuotient, nanos) = ns.quotientAndRemainder(dividingBy: 1_000_000_000)
    let seconds = nanos < 0 ? secondsQuotient - 1 : secondsQuotient
    let fraction = nanos < 0 ? nanos + 1_000_000_000 : nanos
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "invalid time (\(ns) ns)" }
    func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    return "\(padded(Int(parts.tm_year) + 1900, 4))-\(padded(Int(parts.tm_mon) + 1, 2))-\(padded(Int(parts.tm_mday), 2))"
        + "T\(padded(Int(parts.tm_hour), 2)):\(padded(Int(parts.tm_min), 2)):\(padded(Int(parts.tm_sec), 2))"
        + ".\(padded(Int(fraction), 9))Z"
}

/// A minimal JSON writer that keeps keys in insertion order.
private indirect enum JSONValue {
    case string(String)
    case number(String)
    case bool(Bool)
    case object(JSONObject)
    case array([JSONValue])
    case null

    var rendered: String {
        switch self {
        case .string(let text): JSONOutput.quoted(text)
        case .number(let digits): digits
        case .bool(let value): value ? "true" : "false"
        case .object(let object): object.rendered
        case .array(let values): "[" + values.map(\.rendered).joined(separator: ",") + "]"
        case .null: "null"
        }
    }
}

private struct JSONObject {
    private(set) var keys: [String] = []
    private var values: [JSONValue] = []

    mutating func add(_ key: String, _ value: JSONValue?) {
        keys.append(key)
        values.append(value ?? .null)
    }

    var rendered: String {
        "{" + zip(keys, values).map { JSONOutput.quoted($0) + ":" + $1.rendered }.joined(separator: ",") + "}"
    }
}
