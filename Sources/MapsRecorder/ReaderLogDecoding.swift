/// The reader-log decoder, for the fuzzer (`MapsFuzzing`): the recorder
/// decodes a log it got from its own reader process, but nothing it finds in
/// the log may crash it.
public enum ReaderLogDecoding {
    /// Decodes `data` as a reader log; nil when it is a usable log, or why not.
    public static func check(_ data: UnsafeRawBufferPointer, strategy: String = "fuzz") -> RecordingError? {
        switch ReaderLog.decode(data, strategy: strategy) {
        case .success: nil
        case .failure(let error): error
        }
    }
}
