#if canImport(Glibc)
import Glibc
#endif

/// A progress line on standard error for a command that may run more than a
/// second: nothing until a second has passed, then one line rewritten in
/// place; nothing at all when standard error is not a terminal.
/// `MAPSRACE_PROGRESS_AFTER_MS` changes the delay (the tests set 0).
final class TerminalProgress {
    private let enabled: Bool
    private let start: UInt64
    private var shown = false
    private let delayNs: UInt64

    init() {
        enabled = isatty(STDERR_FILENO) == 1
        start = Self.now()
        let override = getenv("MAPSRACE_PROGRESS_AFTER_MS").flatMap { UInt64(String(cString: $0)) }
        delayNs = (override ?? 1000) * 1_000_000
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Shows `text` once the delay has passed.
    func show(_ text: @autoclosure () -> String) {
        guard enabled, shown || Self.now() - start >= delayNs else { return }
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
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
