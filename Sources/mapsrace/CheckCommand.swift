import ArgumentParser
import MapsCheck
import MapsTrace

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Say whether maps texts from the field are provably torn (saved files, bug reports, minidumps).",
        discussion: """
            Reads each FILE once, front to back, in bounded memory, and lists what the text \
            alone proves never existed as one snapshot, with line numbers and the lines:

              overlap              shares addresses with an earlier line (shape
                                   merge_between_reads: a mapping merged between reads)
              backwards            lies wholly below an earlier line
              end_before_start     a range ending at or before its start
              truncated_last_line  the text ends inside a line
              duplicate_line       a line repeated exactly

            and what is only suspicious:

              unmerged_anonymous   anonymous neighbours the kernel would have merged
              page_boundary_jump   a hole where a page-per-read reader resumed

            Verdict per file: torn (an impossibility), suspicious, or no evidence. Formats: \
            linux (/proc/PID/maps), smaps (its mapping headers), freebsd (procstat vm), \
            minidump (the MD_LINUX_MAPS stream of a Breakpad/Crashpad minidump). '-' reads \
            standard input. Docs: docs/check-json.md.

            Examples:
              mapsrace check saved-maps.txt
              mapsrace check crash.dmp --format minidump --json

            Exit status: 0 no evidence in any file, 2 some file is torn, 3 some file is \
            suspicious and none torn; when a file cannot be checked (all files are still read): \
            40 cannot be opened or read, 41 binary data or a line not in the format, 42 over a \
            limit (--max-bytes, or a line over 16 KiB), 43 not a usable minidump or one without \
            a maps stream.
            """
    )

    @Argument(help: ArgumentHelp("Maps texts to check; '-' reads standard input.", valueName: "file"))
    var files: [String] = []

    @Option(help: "Input format: linux, smaps, freebsd or minidump.")
    var format: CheckFormat = .linux

    @Flag(help: "Print a JSON array, one object per file (schema: docs/check-json.md).")
    var json = false

    @Option(help: "Stop with an error after this many bytes of one input's text (an endless input stops here).")
    var maxBytes: UInt64 = CheckLimits.standard.maxInputBytes

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Give at least one maps file ('-' for standard input).") }
        guard maxBytes > 0 else { throw ValidationError("--max-bytes must be positive.") }
    }

    func run() throws {
        var limits = CheckLimits.standard
        limits.maxInputBytes = maxBytes
        var worst = CheckVerdict.noEvidence
        var firstFailure: ExitStatus?
        if json { print("[") }
        for (position, file) in files.enumerated() {
            let outcome: Result<MapsCheckResult, CheckError>
            do throws(CheckError) {
                outcome = .success(try checkMaps(ByteInput(path: file), format: format, limits: limits))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let result):
                worst = max(worst, result.verdict)
                if !json { print(CheckReportText.human(result, name: file), terminator: "") }
            case .failure(let error):
                printError("mapsrace: error: \(failureMessage(error, about: file))")
                firstFailure = firstFailure ?? error.exitStatus
            }
            if json {
                let entry = CheckJSONEntry(file: file, format: format, outcome: outcome)
                print(JSONOutput.text(entry) + (position + 1 < files.count ? "," : ""))
            }
        }
        if json { print("]") }
        if let firstFailure { throw firstFailure.exitCode }
        switch worst {
        case .torn: throw ExitStatus.checkTorn.exitCode
        case .suspicious: throw ExitStatus.checkSuspicious.exitCode
        case .noEvidence: return
        }
    }
}

extension CheckFormat: ExpressibleByArgument {}

/// One element of `check --json`'s array (docs/check-json.md): every key always
/// present, null when it has no value.
private struct CheckJSONEntry: Encodable {
    var file: String
    var format: CheckFormat
    var outcome: Result<MapsCheckResult, CheckError>

    enum CodingKeys: String, CodingKey {
        case file, format, verdict, error, lines, mappings, bytes, impossibilities, suspicious, findings
        case findingsOmitted = "findings_omitted"
        case minidumpStream = "minidump_stream"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(format, forKey: .format)
        let result = try? outcome.get()
        var failure: String?
        if case .failure(let error) = outcome { failure = error.description }
        try container.encode(result?.verdict, forKey: .verdict)
        try container.encode(failure, forKey: .error)
        try container.encode(result?.lines, forKey: .lines)
        try container.encode(result?.mappings, forKey: .mappings)
        try container.encode(result?.bytes, forKey: .bytes)
        try container.encode(result?.impossibilities, forKey: .impossibilities)
        try container.encode(result?.suspicious, forKey: .suspicious)
        try container.encode(result?.findings, forKey: .findings)
        try container.encode(result?.findingsOmitted, forKey: .findingsOmitted)
        try container.encode(result?.minidumpStream, forKey: .minidumpStream)
    }
}
