import ArgumentParser
import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// A progress line on standard error for a command that may run more than a
/// second (report, export, analyze, survey): nothing until a second has
/// passed, then one line rewritten in place; nothing at all when standard
/// error is not a terminal.
final class TerminalProgress {
    private let enabled: Bool
    private let start: UInt64
    private let delayNs: UInt64
    private var shown = false

    init(afterMilliseconds delay: Int = 1000) {
        enabled = isatty(STDERR_FILENO) == 1
        start = MonotonicClock.now()
        delayNs = UInt64(max(delay, 0)) * 1_000_000
    }

    /// Shows `text` once the delay has passed.
    func show(_ text: @autoclosure () -> String) {
        guard enabled, shown || MonotonicClock.now() - start >= delayNs else { return }
        shown = true
        emit("\r\u{1B}[K" + text())
    }

    /// Removes the line, if one was shown.
    func clear() {
        guard shown else { return }
        shown = false
        emit("\r\u{1B}[K")
    }

    private func emit(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { writeAll(STDERR_FILENO, $0) }
    }
}

/// The progress line of report, export and analyze, with its delay as a
/// hidden option for tests (a small trace is done long before a second).
struct ProgressOption: ParsableArguments {
    /// For tests: milliseconds before the progress line may appear.
    @Option(help: .private)
    var testProgressAfterMs: Int = 1000

    func line() -> TerminalProgress { TerminalProgress(afterMilliseconds: testProgressAfterMs) }
}
