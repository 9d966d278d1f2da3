#if canImport(Glibc)
import Glibc
#endif

/// Keeps memory the process frees for its next allocations instead of
/// handing it back to the kernel: the analysis allocates and frees arrays of
/// megabytes per snapshot, and every fresh mapping is pages the kernel must
/// fault in and zero again (several percent of `analyze`'s CPU on a
/// seed-size trace). Costs nothing but keeping the peak mapped until exit.
func keepFreedMemoryForReuse() {
    #if canImport(Glibc)
    // glibc's mallopt(3), which the Glibc module does not bring in
    // (<malloc.h>), looked up at run time.
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }  // RTLD_DEFAULT
    let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
    let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
    let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
    _ = mallopt(mmapThreshold, 256 << 20)
    _ = mallopt(trimThreshold, 1 << 30)
    #endif
}
