/// Why a survey could not run at all (a failing recording only fails its cell).
public enum SurveyError: Error, CustomStringConvertible, Equatable {
    case invalidPlan(String)
    /// The survey directory could not be created or written.
    case directoryNotWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidPlan(let reason): reason
        case .directoryNotWritable(let path, let reason): "cannot use \(path) for the survey: \(reason)"
        }
    }
}
