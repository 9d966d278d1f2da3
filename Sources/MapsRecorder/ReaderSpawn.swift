import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// The reader process: everything needed to start it is prepared (argument
/// strings, file actions, the log memfd, the ready pipe) before the arena
/// exists, so that starting it allocates nothing in the mutator.
final class ReaderSpawn {
    private let spawn: PreparedSpawn
    /// The memfd the reader writes its log to (inherited by the reader).
    let logFD: Int32
    private var readyReadFD: Int32
    private var readyWriteFD: Int32
    private(set) var pid: pid_t = 0
    /// The reader's wait status once reaped.
    private(set) var waitStatus: WaitStatus?

    /// How long a stopped reader gets to hand over its log before SIGKILL.
    static let stopGraceNanoseconds: UInt64 = 2_000_000_000

    init(
        executable path: String, externalCommand: [String]? = nil,
        configuration: (Int32, Int32) -> ReaderProcessConfiguration
    ) throws(RecordingError) {
        switch createMemoryFile(name: "mapsrace-reader-log") {
        case .success(let fd): logFD = fd
        case .failure(let code): throw .systemCallFailed("memfd_create", errno: code.rawValue)
        }
        switch makePipe() {
        case .success(let ends):
            readyReadFD = ends.read
            readyWriteFD = ends.write
        case .failure(let code):
            close(logFD)
            throw .systemCallFailed("pipe", errno: code.rawValue)
        }
        // SIGINT and SIGTERM start at their default actions but BLOCKED: one
        // that arrives before the reader's handlers are in place stays
        // pending until `StopSignal.install` unblocks it, so it stops the
        // reader through its handler (log handed over), never kills it.
        spawn = PreparedSpawn(
            executable: path, arguments: Self.arguments(configuration(logFD, readyWriteFD), externalCommand: externalCommand),
            fileActions: [.inherit(logFD), .inherit(readyWriteFD)], stopSignals: .defaultAndBlocked)
    }

    /// `_reader ...`, or for an external reader (`record --workload W -- CMD
    /// {pid}`) `_traced-reader ... -- CMD`.
    static func arguments(_ configuration: ReaderProcessConfiguration, externalCommand: [String]?) -> [String] {
        guard let externalCommand else { return ["_reader"] + configuration.arguments }
        return ["_traced-reader"] + configuration.tracedReaderArguments + ["--"] + externalCommand
    }

    /// Records the status a waitpid(-1) elsewhere (the tracer's) reaped.
    func adoptedWaitStatus(_ status: WaitStatus) { waitStatus = status }

    deinit {
        if pid > 0 && waitStatus == nil { _ = stop() }
        for fd in [logFD, readyReadFD, readyWriteFD] where fd >= 0 { close(fd) }
    }

    /// Starts the reader. It writes one byte on the ready pipe right before
    /// its first open of the maps.
    func start() throws(RecordingError) {
        switch spawn.spawn() {
        case .success(let child): pid = child
        case .failure(let code):
            throw .readerFailed("spawn of \(spawn.executablePath): \(code.text)")
        }
        close(readyWriteFD)
        readyWriteFD = -1
    }

    enum Readiness { case ready, exitedEarly, interrupted }

    /// Blocks until the reader is about to open the maps for the first time.
    func waitUntilReady() -> Readiness {
        var byte: UInt8 = 0
        while true {
            switch checkedCall({ read(readyReadFD, &byte, 1) }) {
            case .success(1): return .ready
            case .success: return .exitedEarly
            case .failure(.interrupted): if StopSignal.received != 0 { return .interrupted }
            case .failure: return .exitedEarly
            }
        }
    }

    /// Waits for the reader to finish its snapshots. If a stop signal arrives
    /// meanwhile, stops it instead (see `stop`).
    func reap() -> WaitStatus {
        if let waitStatus { return waitStatus }
        reaping: while StopSignal.received == 0 {
            switch waitForProcess(pid, retryOnInterrupt: false) {
            case .success(let status?):
                waitStatus = status
                return status
            case .success(nil), .failure(.interrupted): continue
            case .failure: break reaping
            }
        }
        return stop()
    }

    /// SIGTERM, then up to `stopGraceNanoseconds` for the reader to hand over
    /// its log and exit, then SIGKILL. Always reaps.
    func stop() -> WaitStatus {
        if let waitStatus { return waitStatus }
        sendSignal(SIGTERM, to: pid)
        let deadline = MonotonicClock.now() + Self.stopGraceNanoseconds
        while MonotonicClock.now() < deadline {
            if case .success(let status?) = waitForProcess(pid, options: .noHang) {
                waitStatus = status
                return status
            }
            MonotonicClock.sleep(nanoseconds: 5_000_000)
        }
        sendSignal(SIGKILL, to: pid)
        let status: WaitStatus
        switch waitForProcess(pid) {
        case .success(let reaped?): status = reaped
        default: status = WaitStatus(rawValue: 0)
        }
        waitStatus = status
        return status
    }
}
