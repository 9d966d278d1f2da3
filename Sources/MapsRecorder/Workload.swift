import MapsTrace

/// What the mutator does to its arena.
public enum Workload: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The seed's rolling-mprotect experiment (see `RollingWorkload`).
    case rolling

    public init(parsing text: String) throws(RecordingError) {
        guard let workload = Workload(rawValue: text) else {
            throw .invalidWorkload(text)
        }
        self = workload
    }

    public var description: String { rawValue }
}
