/// Why a survey could not run at all (a failing recording only fails its cell).
public enum SurveyError: Error, CustomStringConvertible, Equatable {
    case invalidPlan(String)
    /// The survey directory could not be created or written.
    case directoryNotWritable(path: String, reason: String)
    /// A `real-...` reader that is not in the table or not installed here.
    case realReaderUnavailable(name: String, reason: String)

    public var description: String {
        switch self {
        case .invalidPlan(let reason): reason
        case .directoryNotWritable(let path, let reason): "cannot use \(path) for the survey: \(reason)"
        case .realReaderUnavailable(let name, let reason): "real reader \(name): \(reason)"
        }
    }
}
