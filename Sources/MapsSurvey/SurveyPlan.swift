import MapsRecorder

/// What a survey records: every reader against every workload, each pair
/// `repetitions` times, every recording of the same size.
public struct SurveyPlan: Sendable, Equatable {
    /// Arena pages per recording. 8000 pages of `rolling` print about 8000
    /// arena lines (~380 KB of maps, ~100 read(2) calls per snapshot), so every
    /// snapshot spans many read boundaries, while a recording plus its
    /// analysis stays well under a second on this machine kind.
    public static let defaultPageCount = 8000
    /// Snapshots per recording and recordings per cell: 100 snapshots per
    /// cell, so a percentage moves in steps of 1, from 5 page shuffles. The
    /// whole default survey (5 workloads × 7 readers) takes about 1.5 minutes
    /// with a release build on 2 cores.
    public static let defaultSnapshotCount = 20
    public static let defaultRepetitions = 5
    /// The first seed; recording i of every cell uses `seed + i`, so that all
    /// readers face the same page shuffles.
    public static let defaultSeed: UInt64 = 1

    /// The readers a survey tries when none are named: every named strategy
    /// this build of the recorder knows (`read:SIZE` is represented by `cat`).
    public static var defaultReaders: [String] {
        let candidates = ["chromium", "pmap", "cat", "smaps", "procmap-query", "retry-stable", "frozen"]
        return candidates.filter { (try? ReaderStrategy(parsing: $0)) != nil }
    }

    /// Every workload this build of the recorder knows.
    public static var defaultWorkloads: [String] { Workload.allCases.map(\.rawValue) }

    public var workloads: [String]
    public var readers: [String]
    public var repetitions: Int
    public var pageCount: Int
    public var snapshotCount: Int
    public var seed: UInt64
    /// Where the traces and the table go.
    public var directory: String
    /// The `mapsrace` binary that records (`<executable> record ...`).
    public var recorderExecutable: String
    /// Written into survey.json.
    public var toolVersion: String
    /// How long one recording may run before the survey kills it (its whole
    /// process group: the recorder, its reader and any traced program) and
    /// marks it failed, so that one hung program cannot stall the survey.
    public var recordingTimeoutSeconds: Int

    /// Ten minutes: a seed-size recording takes about a second, a real
    /// program traced with its start-up a few.
    public static let defaultRecordingTimeoutSeconds = 600

    public init(
        workloads: [String] = defaultWorkloads,
        readers: [String] = defaultReaders,
        repetitions: Int = defaultRepetitions,
        pageCount: Int = defaultPageCount,
        snapshotCount: Int = defaultSnapshotCount,
        seed: UInt64 = defaultSeed,
        directory: String,
        recorderExecutable: String = "/proc/self/exe",
        toolVersion: String,
        recordingTimeoutSeconds: Int = defaultRecordingTimeoutSeconds
    ) {
        self.workloads = workloads
        self.readers = readers
        self.repetitions = repetitions
        self.pageCount = pageCount
        self.snapshotCount = snapshotCount
        self.seed = seed
        self.directory = directory
        self.recorderExecutable = recorderExecutable
        self.toolVersion = toolVersion
        self.recordingTimeoutSeconds = recordingTimeoutSeconds
    }

    /// The seed of recording `repetition` (0-based) of every cell.
    public func seed(forRepetition repetition: Int) -> UInt64 {
        seed &+ UInt64(repetition)
    }

    /// `rolling-read4096-r2.mrtrace`: workload, reader (file-name safe) and
    /// repetition, inside the survey directory.
    public func tracePath(workload: String, reader: String, repetition: Int) -> String {
        directory + "/" + fileNameSafe(workload) + "-" + fileNameSafe(reader) + "-r\(repetition).mrtrace"
    }

    /// The command that records the same survey again (in a new directory).
    public var regeneratingCommand: String {
        [
            "mapsrace survey",
            "--repeat \(repetitions)",
            "--workloads \(workloads.joined(separator: ","))",
            "--readers \(readers.joined(separator: ","))",
            "--pages \(pageCount)",
            "--snapshots \(snapshotCount)",
            "--seed \(seed)",
        ].joined(separator: " ")
    }

    /// Checks the sizes; the names are checked per cell, so that one bad
    /// name fails its cells and not the survey.
    public func validate() throws(SurveyError) {
        guard !workloads.isEmpty else { throw .invalidPlan("no workload to survey") }
        guard !readers.isEmpty else { throw .invalidPlan("no reader to survey") }
        guard repetitions >= 1 else { throw .invalidPlan("--repeat must be at least 1 (got \(repetitions))") }
        guard pageCount >= 2 else { throw .invalidPlan("--pages must be at least 2 (got \(pageCount))") }
        guard snapshotCount >= 1 else { throw .invalidPlan("--snapshots must be at least 1 (got \(snapshotCount))") }
        guard recordingTimeoutSeconds >= 1 else {
            throw .invalidPlan("--recording-timeout must be at least 1 second (got \(recordingTimeoutSeconds))")
        }
    }
}

/// `read:4096` → `read4096`: letters, digits, `-`, `_` and `.` kept.
func fileNameSafe(_ name: String) -> String {
    let kept = name.unicodeScalars.filter { scalar in
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".": true
        default: false
        }
    }
    let text = String(String.UnicodeScalarView(kept))
    return text.isEmpty || text.hasPrefix(".") ? "x" + text : text
}
