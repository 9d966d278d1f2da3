import ArgumentParser
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Prints a failure the way every subcommand reports one and turns it into
/// the failure's own exit code.
func exit(reporting failure: any MapsRaceFailure) -> ExitCode {
    printError("mapsrace: error: \(failure.description)")
    return ExitCode(failure.exitCode)
}

/// Runs `body`, reporting any `MapsRaceFailure` with its exit code.
func reportingFailures<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as any MapsRaceFailure {
        throw exit(reporting: failure)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    var line = message
    line.append("\n")
    _ = line.withCString { fputs($0, stderr) }
}
