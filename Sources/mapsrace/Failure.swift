import ArgumentParser
import MapsSystem
import MapsTrace

/// Prints a failure the way every subcommand reports one and turns it into
/// its exit status (ExitStatus.swift). `subject` (a file) prefixes the
/// message; a trace I/O error reported without one is prefixed with its own file.
func reportFailure(_ failure: any ReportedFailure, about subject: String? = nil) -> ExitCode {
    printError("mapsrace: error: \(failureMessage(failure, about: subject))")
    return failure.exitStatus.exitCode
}

/// What `mapsrace: error: ` is followed by for `failure`.
func failureMessage(_ failure: any ReportedFailure, about subject: String? = nil) -> String {
    (subject ?? (failure as? TraceError)?.file).map { "\($0): \(failure.description)" } ?? failure.description
}

/// Runs `body`, reporting any library failure with its exit status.
func reportingFailures<T>(about subject: String? = nil, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as any ReportedFailure {
        throw reportFailure(failure, about: subject)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    writeLineToStandardError(message)
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
        throw ExitStatus.truncated.exitCode
    case .missingTrailer:
        printError("mapsrace: warning: \(path): the trace has no trailer (the recorder did not finish); everything in it was \(done)")
    }
}
