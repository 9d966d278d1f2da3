import MapsSystem
#if canImport(Glibc)
import Glibc
#endif

/// A preallocated buffer for a whole read of the mutator's own maps, taken
/// while nothing mutates (the initial and final ground truth).
final class QuiescentBuffer {
    private(set) var region: PreallocatedRegion
    private(set) var length = 0
    private(set) var tBegin: UInt64 = 0
    private(set) var tEnd: UInt64 = 0

    static let path = "/proc/self/maps"

    init(capacity: Int) throws(RecordingError) {
        region = try PreallocatedRegion(byteCount: capacity, purpose: "a quiescent maps read")
    }

    var capacity: Int { region.bytes.count }

    /// Replaces the buffer by a bigger one. Maps a new region: only allowed
    /// before the rolling loop, and a quiescent read taken before it must be
    /// taken again.
    func grow(to capacity: Int) throws(RecordingError) {
        region = try PreallocatedRegion(byteCount: capacity, purpose: "a quiescent maps read")
        length = 0
    }

    enum Outcome: Equatable { case complete, bufferFilled }

    /// Reads /proc/self/maps from offset 0 to EOF with read(2) into the
    /// buffer. Allocates nothing.
    func read() throws(RecordingError) -> Outcome {
        length = 0
        tBegin = MonotonicClock.now()
        let fd: Int32
        switch openFile(Self.path, O_RDONLY) {
        case .success(let opened): fd = opened
        case .failure(let code): throw .mapsNotReadable(path: Self.path, errno: code.rawValue)
        }
        defer { close(fd) }
        let start = region.bytes.baseAddress!
        while true {
            let room = region.bytes.count - length
            if room == 0 { return .bufferFilled }
            let count: Int
            switch readSome(fd, into: UnsafeMutableRawBufferPointer(start: start + length, count: room)) {
            case .success(let read): count = read
            case .failure(let code): throw .mapsNotReadable(path: Self.path, errno: code.rawValue)
            }
            if count == 0 { break }
            length += count
        }
        tEnd = MonotonicClock.now()
        return .complete
    }

    var text: [UInt8] { Array(UnsafeRawBufferPointer(rebasing: region.bytes[0..<length])) }
}
