import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// An anonymous private read-write mapping that the recorder allocates up
/// front and touches, so that neither the mapping nor a page fault happens
/// during the experiment.
final class PreallocatedRegion {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int, purpose: String) throws(RecordingError) {
        let length = max(byteCount, 1)
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        guard let address, address != MAP_FAILED else {
            throw .systemCallFailed("mmap of \(length) bytes for \(purpose)", errno: Errno.afterFailedCall.rawValue)
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
            throw .systemCallFailed("mmap of \(length) bytes for \(purpose)", errno: Errno.afterFailedCall.rawValue)
        }
        bytes = UnsafeMutableRawBufferPointer(start: address, count: length)
        let populated = min(max(populatedBytes, 0), length)
        guard populated > 0 else { return }
        // MADV_POPULATE_WRITE (Linux 5.14+) faults the range in writable in
        // one call; on an older kernel, one store per page does the same.
        if madvise(address, populated, Self.madvisePopulateWrite) != 0 {
            let page = MachineLimits.pageSize
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
