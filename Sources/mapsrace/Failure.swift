import ArgumentParser
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Prints a failure the way every subcommand reports one and turns it into
/// the failure's own exit code. `subject` (a file) prefixes the message; a
/// trace I/O error reported without one is prefixed with its own file.
func exit(reporting failure: any MapsRaceFailure, about subject: String? = nil) -> ExitCode {
    let message = (subject ?? (failure as? TraceError)?.file).map { "\($0): \(failure.description)" }
        ?? failure.description
    printError("mapsrace: error: \(message)")
    return ExitCode(failure.exitCode)
}

/// Runs `body`, reporting any `MapsRaceFailure` with its exit code.
func reportingFailures<T>(about subject: String? = nil, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as any MapsRaceFailure {
        throw exit(reporting: failure, about: subject)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    var bytes = Array((message + "\n").utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        bytes = bytes.dropFirst(written)
    }
}

/// After the output for a trace's readable prefix: a cut trace is warned
/// about and exits 13; a trace without a trailer is only warned about.
/// `done` says what happened to what was read ("analysed", "written").
func exitForTruncation(of path: String, completion: TraceCompletion, done: String = "analysed") throws {
    switch completion {
    case .complete:
        return
    case .truncated(let cut):
        printError("mapsrace: warning: \(path): \(TraceError.truncated(cut).description)")
        throw ExitCode(TraceError.truncated(cut).exitCode)
    case .missingTrailer:
        printError("mapsrace: warning: \(path): the trace has no trailer (the recorder did not finish); everything in it was \(done)")
    }
}
