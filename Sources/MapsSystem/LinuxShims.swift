// The Linux calls the Swift Glibc overlay hides or cannot call (variadic,
// _GNU_SOURCE-only, newer than the userspace headers), as Swift API. Their C
// halves are in CProcfs; no other target imports CProcfs.

#if canImport(Glibc)
import Glibc
#endif
import CProcfs

/// memfd_create(2) with MFD_CLOEXEC: an anonymous file, nothing mapped.
public func createMemoryFile(name: String) -> Result<Int32, Errno> {
    checkedCall { mapsrace_memfd_create(name) }
}

/// Keeps memory the process frees for its next allocations instead of
/// handing it back to the kernel (mallopt(3): no mmap per large block, no
/// heap trimming). For a process that allocates and frees arrays of
/// megabytes over and over, like `analyze` per snapshot: every fresh mapping
/// is pages the kernel must fault in and zero again. Costs keeping the peak
/// mapped until exit.
public func keepFreedMemoryForReuse() {
    mapsrace_keep_freed_memory()
}

/// gettid(2): the calling thread's id.
public var currentThreadID: Int32 { mapsrace_gettid() }

/// mremap(2) with all five arguments; the new address, or MAP_FAILED with
/// errno (read it with `Errno.afterFailedCall`).
@inlinable @inline(__always)
public func remapMemory(
    _ address: UnsafeMutableRawPointer?, _ length: Int, _ newLength: Int, _ flags: Int32,
    _ newAddress: UnsafeMutableRawPointer?
) -> UnsafeMutableRawPointer? {
    mapsrace_mremap(address, length, newLength, flags, newAddress)
}

/// One PROCMAP_QUERY answer (the kernel's UAPI layout, include/uapi/linux/fs.h).
public typealias ProcmapQuery = mapsrace_procmap_query

/// PROCMAP_QUERY's flags: `query_flags` in, `vma_flags` out.
public enum ProcmapQueryFlags {
    @inlinable public static var readable: UInt64 { UInt64(MAPSRACE_PROCMAP_QUERY_VMA_READABLE) }
    @inlinable public static var writable: UInt64 { UInt64(MAPSRACE_PROCMAP_QUERY_VMA_WRITABLE) }
    @inlinable public static var executable: UInt64 { UInt64(MAPSRACE_PROCMAP_QUERY_VMA_EXECUTABLE) }
    @inlinable public static var shared: UInt64 { UInt64(MAPSRACE_PROCMAP_QUERY_VMA_SHARED) }
    /// The mapping containing `query_addr`, or else the next one above it.
    @inlinable public static var coveringOrNextMapping: UInt64 { UInt64(MAPSRACE_PROCMAP_QUERY_COVERING_OR_NEXT_VMA) }
}

/// ioctl(maps_fd, PROCMAP_QUERY, query): nil, or the errno (ENOENT: no
/// mapping at or above the address; ENOTTY or EINVAL: a kernel without it).
@inlinable @inline(__always)
public func procmapQuery(_ mapsFD: Int32, _ query: UnsafeMutablePointer<ProcmapQuery>) -> Errno? {
    mapsrace_procmap_query(mapsFD, query) == 0 ? nil : Errno.afterFailedCall
}

/// The ptrace(2) requests whose `addr` is unused.
public enum PtraceRequest: Int32, Sendable {
    case detach = 17
    case seize = 0x4206
    case interrupt = 0x4207

    /// `WaitStatus.ptraceEvent` of a stop caused by PTRACE_INTERRUPT or a group stop.
    public static let eventStop: Int32 = 128
}

/// ptrace(request, tid, 0, data): nil, or the errno.
public func ptrace(_ request: PtraceRequest, _ tid: pid_t, data: UInt = 0) -> Errno? {
    mapsrace_ptrace(request.rawValue, tid, data) == 0 ? nil : Errno.afterFailedCall
}

/// A read-only stdio stream whose every underlying read goes through
/// `read(cookie, buffer, size)` (glibc's fopencookie); nil with the errno.
public func openLoggedStream(
    cookie: UnsafeMutableRawPointer, read: mapsrace_stream_read_fn
) -> Result<UnsafeMutablePointer<FILE>, Errno> {
    guard let stream = mapsrace_open_logged_stream(cookie, read) else { return .failure(Errno.afterFailedCall) }
    return .success(stream)
}
