// Small wrappers around the system calls the recorder and the reader share.

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call: no syscall, no allocation).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(truncatingIfNeeded: now.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: now.tv_nsec)
}

func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

func monotonicResolutionNanoseconds() -> UInt64 {
    var resolution = timespec()
    guard clock_getres(CLOCK_MONOTONIC, &resolution) == 0 else { return 0 }
    return UInt64(resolution.tv_sec) * 1_000_000_000 + UInt64(resolution.tv_nsec)
}

/// `uname -r`, `uname -v`, `uname -m`.
struct KernelIdentity {
    var release: String
    var version: String
    var machine: String

    static func current() -> KernelIdentity {
        var names = utsname()
        guard uname(&names) == 0 else {
            return KernelIdentity(release: "unknown", version: "unknown", machine: "unknown")
        }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return KernelIdentity(release: text(names.release), version: text(names.version), machine: text(names.machine))
    }
}

var systemPageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

/// Reads a whole (small) file with read(2); the errno on failure.
func readWholeFile(_ path: String) -> Result<[UInt8], Errno> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(Errno(errno)) }
    defer { close(fd) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            return .failure(Errno(errno))
        }
        if count == 0 { return .success(contents) }
        contents.append(contentsOf: chunk[0..<count])
    }
}

/// An errno value as an error.
struct Errno: Error, Equatable {
    var code: Int32
    init(_ code: Int32) { self.code = code }
}

/// The kernel's limit on map entries per process.
func maxMapCount() -> Int? {
    guard case .success(let bytes) = readWholeFile("/proc/sys/vm/max_map_count") else { return nil }
    let text = String(decoding: bytes, as: UTF8.self).trimmingSpaces()
    return Int(text)
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

/// Writes all of `bytes` at `offset` with pwrite(2), retrying short writes.
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> Errno? {
    var written = 0
    while written < bytes.count {
        let count = pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset + written))
        if count < 0 {
            if errno == EINTR { continue }
            return Errno(errno)
        }
        written += count
    }
    return nil
}

/// An anonymous private read-write mapping that the recorder allocates up
/// front and touches, so that neither the mapping nor a page fault happens
/// during the experiment.
final class PreallocatedRegion {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int, purpose: String) throws(RecordingError) {
        let length = max(byteCount, 1)
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        guard let address, address != MAP_FAILED else {
            throw .systemCallFailed("mmap of \(length) bytes for \(purpose)", errno: errno)
        }
        bytes = UnsafeMutableRawBufferPointer(start: address, count: length)
    }

    deinit {
        munmap(bytes.baseAddress, bytes.count)
    }
}
