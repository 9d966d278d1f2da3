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

    /// A mapping of `byteCount` bytes with MAP_NORESERVE of which only the
    /// first `populatedBytes` are faulted in now: room that is probably never
    /// used costs neither memory nor commit charge, and a page of it is
    /// faulted in only if the experiment gets that far.
    init(byteCount: Int, populatedBytes: Int, purpose: String) throws(RecordingError) {
        let length = max(byteCount, 1)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, flags, -1, 0), address != MAP_FAILED else {
            throw .systemCallFailed("mmap of \(length) bytes for \(purpose)", errno: errno)
        }
        bytes = UnsafeMutableRawBufferPointer(start: address, count: length)
        let populated = min(max(populatedBytes, 0), length)
        guard populated > 0 else { return }
        // MADV_POPULATE_WRITE (Linux 5.14+) faults the range in writable in
        // one call; on an older kernel, one store per page does the same.
        if madvise(address, populated, Self.madvisePopulateWrite) != 0 {
            let page = systemPageSize
            for offset in stride(from: 0, to: populated, by: page) {
                address.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
            }
        }
    }

    /// MADV_POPULATE_WRITE (asm-generic/mman-common.h).
    static let madvisePopulateWrite: Int32 = 23

    deinit {
        munmap(bytes.baseAddress, bytes.count)
    }
}

/// Physical memory of the machine in bytes (0 if sysconf cannot tell).
var physicalMemoryBytes: Int {
    let pages = sysconf(Int32(_SC_PHYS_PAGES))
    return pages > 0 ? pages * systemPageSize : 0
}
