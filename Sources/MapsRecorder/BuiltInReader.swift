import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// A built-in reader process reading another program's maps
/// (`record --reader R -- CMD`: CMD is the traced mutator). The same
/// `_reader` process `record` uses, pointed at `targetPID`.
public final class BuiltInReader {
    private let spawn: ReaderSpawn
    public let strategy: ReaderStrategy
    public let targetPID: Int32

    /// Bytes of the reader's buffer: snapshots past it end `bufferFull`.
    public static let defaultBufferBytes = 64 << 20

    public init(
        strategy: ReaderStrategy, targetPID: Int32, snapshots: Int, bufferBytes: Int = defaultBufferBytes,
        executable: String = "/proc/self/exe"
    ) throws(RecordingError) {
        self.strategy = strategy
        self.targetPID = targetPID
        spawn = try ReaderSpawn(executable: executable) { logFD, readyFD in
            ReaderProcessConfiguration(
                targetPID: targetPID, strategy: strategy, snapshotCount: snapshots, logFD: logFD, readyFD: readyFD,
                byteCapacity: bufferBytes, populatedBytes: min(bufferBytes, 4 << 20))
        }
    }

    public var pid: Int32 { spawn.pid }

    public func start() throws(RecordingError) { try spawn.start() }

    /// The wait status, when someone else's waitpid(-1) reaped the reader.
    public func adopt(waitStatus: Int32) { spawn.adopt(waitStatus: waitStatus) }

    /// Waits for the reader (or stops it with `stopNow`) and reads its log back.
    public func finish(stopNow: Bool) -> Result<[ExternalReaderSnapshot], RecordingError> {
        let status = stopNow ? spawn.stop() : spawn.reap()
        switch ReaderLog.read(fromFD: spawn.logFD, strategy: strategy.description) {
        case .success(let log):
            return .success(log.snapshots.map { snapshot in
                ExternalReaderSnapshot(
                    tBegin: snapshot.begin.tBegin, tEnd: snapshot.end.tEnd, flags: snapshot.end.flags,
                    errno: snapshot.end.errno, chunks: snapshot.chunks)
            })
        case .failure(let failure):
            return .failure(status.exitedCleanly ? failure : .readerFailed(status.description))
        }
    }
}

extension ReaderSpawn {
    func adopt(waitStatus status: Int32) { adoptedWaitStatus(WaitStatus(rawValue: status)) }
}
