import ArgumentParser
import MapsRecorder

/// The trace argument every command that reads a trace takes:
/// `@OptionGroup var input: TraceArgument`, then `input.trace`.
struct TraceArgument: ParsableArguments {
    @Argument(help: "The trace file (from `mapsrace record`).")
    var trace: String
}

/// `--reader` as given (for messages, and to tell `retry-stable` from
/// `retry-stable:N`) and as parsed: the one place a reader name is parsed.
struct ReaderArgument: CustomStringConvertible {
    var text: String
    var strategy: ReaderStrategy

    init(_ text: String) throws(RecordingError) {
        self.text = text
        strategy = try ReaderStrategy(parsing: text)
    }

    private init(text: String, strategy: ReaderStrategy) {
        self.text = text
        self.strategy = strategy
    }

    /// `record`'s default.
    static let chromium = ReaderArgument(text: "chromium", strategy: .chromium)

    var description: String { text }
}
