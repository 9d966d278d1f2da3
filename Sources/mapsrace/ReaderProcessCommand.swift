import ArgumentParser
import MapsRecorder

/// The reader process `record` spawns (/proc/self/exe, started by PreparedSpawn). Not
/// meant to be run by hand: it expects the recorder's inherited descriptors.
struct ReaderProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_reader",
        abstract: "Internal: the reader process of `mapsrace record`.",
        shouldDisplay: false
    )

    @Option(help: "The mutator whose maps are read.")
    var pid: Int32

    @Option(
        help: ArgumentHelp("How to read the maps, one of these:", discussion: ReaderStrategy.catalogHelp()),
        transform: ReaderStrategy.init(parsing:))
    var reader: ReaderStrategy

    @Option(help: "Snapshots to take.")
    var snapshots: Int

    @Option(help: "Inherited descriptor the log is written to.")
    var logFd: Int32

    @Option(help: "Inherited descriptor that gets one byte before the first open.")
    var readyFd: Int32

    @Option(help: "Bytes of the buffer for the bytes read (mapped with MAP_NORESERVE).")
    var bufferBytes: Int

    @Option(help: "Bytes of that buffer to fault in before the first snapshot (default: all).")
    var populateBytes: Int?

    @Option(help: "For tests: milliseconds to wait after the ready byte, before the first snapshot.")
    var startDelayMs: Int = 0

    func validate() throws {
        do {
            try configuration().validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        try reportingFailures {
            try runReaderProcess(try configuration())
        }
    }

    private func configuration() throws(RecordingError) -> ReaderProcessConfiguration {
        ReaderProcessConfiguration(
            targetPID: pid, strategy: reader, snapshotCount: snapshots,
            logFD: logFd, readyFD: readyFd, byteCapacity: bufferBytes, populatedBytes: populateBytes)
            .withStartDelay(milliseconds: startDelayMs)
    }
}
