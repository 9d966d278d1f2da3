import MapsSystem
import MapsRecorder
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// `record --workload W -- CMD {pid}`: the reader process. It tells the
/// recorder it is ready, then runs CMD under the tracer `snapshots` times,
/// `{pid}` replaced by `targetPID`, one after the other, and hands every
/// snapshot of `/proc/<targetPID>/maps` the command took over through
/// `logFD`, as the built-in reader process does. Only the reader is traced.
public func runTracedReader(
    targetPID: Int32, snapshots: Int, logFD: Int32, readyFD: Int32, command template: [String],
    stubExecutable: String = "/proc/self/exe"
) throws(TracerError) {
    if case .failure(let code) = StopSignal.install() { throw .systemCallFailed("sigaction", errno: code.rawValue) }
    defer { StopSignal.restore() }
    let command = template.map { $0.replacingAll("{pid}", with: "\(targetPID)") }
    var byte: UInt8 = 1
    _ = write(readyFD, &byte, 1)
    close(readyFD)
    var taken: [ExternalReaderSnapshot] = []
    for _ in 0..<snapshots {
        if StopSignal.received != 0 { break }
        var configuration = TracerConfiguration(command: command, stubExecutable: stubExecutable)
        configuration.discardOutput = true
        configuration.maxDataBytes = 256 << 20
        let run = try traceCommand(configuration, originNs: monotonicNanoseconds())
        let encoder = TracedTraceEncoder(run: run, command: command, originNs: run.originNs, wallNs: 0)
        taken += encoder.externalSnapshots(target: targetPID)
        if case .limit(let limit) = run.loop.stop { throw .limitReached(limit, trace: "the reader's log") }
    }
    do {
        try handOverExternalReaderLog(taken, to: logFD)
    } catch {
        throw .systemCallFailed("handing over the reader log: \(error)", errno: EIO)
    }
}

extension TracedTraceEncoder {
    /// The snapshots of `target`'s maps, with their chunks.
    func externalSnapshots(target: Int32) -> [ExternalReaderSnapshot] {
        let log = run.log
        return snapshots.compactMap { snapshot in
            guard run.loop.descriptions[Int(snapshot.description)].targetPID == target else { return nil }
            let chunks = snapshot.chunks.enumerated().map { sequence, eventIndex in
                let event = log.eventBuffer[eventIndex]
                return ReadChunk(
                    snapshot: 0, sequence: UInt32(sequence), offset: event.offset, requested: event.requested,
                    returned: event.errno != 0 ? -1 : Int64(event.dataCount), errno: event.errno,
                    tBegin: event.tBegin, tEnd: event.tEnd, bytes: log.bytes(event.dataStart, event.dataCount))
            }
            return ExternalReaderSnapshot(
                tBegin: snapshot.tBegin, tEnd: snapshot.tEnd, flags: snapshot.flags, errno: snapshot.errno, chunks: chunks)
        }
    }
}

extension String {
    func replacingAll(_ pattern: String, with replacement: String) -> String {
        pattern.isEmpty ? self : replacing(pattern, with: replacement)
    }
}
