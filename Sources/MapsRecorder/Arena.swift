import MapsSystem
#if canImport(Glibc)
import Glibc
#endif

/// The pages the workload mutates, between two guard pages.
///
/// The arena is mapped as `pageCount + 2` private anonymous PROT_NONE pages;
/// the first and the last are then replaced (MAP_FIXED) by shared anonymous
/// PROT_NONE mappings. A shared mapping never merges with a private one, so
/// no arena line can ever merge with whatever the kernel places next to the
/// arena, whatever permissions the edge pages get.
final class Arena {
    /// Start of the leading guard page.
    private let mapping: UnsafeMutableRawPointer
    private let mappingLength: Int
    let pageSize: Int
    let pageCount: Int

    /// First byte of the arena proper (just after the leading guard).
    var start: UInt64 { UInt64(UInt(bitPattern: mapping)) + UInt64(pageSize) }
    var end: UInt64 { start + UInt64(pageCount * pageSize) }

    /// Map entries the arena can occupy at most: every page on its own line,
    /// plus the two guards.
    static func mapEntries(pageCount: Int) -> Int { pageCount + 2 }

    init(pageCount: Int, pageSize: Int, noReserve: Bool) throws(RecordingError) {
        self.pageCount = pageCount
        self.pageSize = pageSize
        mappingLength = (pageCount + 2) * pageSize
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | (noReserve ? MAP_NORESERVE : 0)
        guard let address = mmap(nil, mappingLength, PROT_NONE, flags, -1, 0), address != MAP_FAILED else {
            throw .systemCallFailed("mmap of the \(pageCount)-page arena", errno: Errno.afterFailedCall.rawValue)
        }
        mapping = address
        for guardPage in [address, address + (pageCount + 1) * pageSize] {
            let placed = mmap(guardPage, pageSize, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
            if placed == MAP_FAILED {
                let code = Errno.afterFailedCall.rawValue
                munmap(address, mappingLength)
                throw .systemCallFailed("mmap of an arena guard page", errno: code)
            }
        }
    }

    deinit {
        munmap(mapping, mappingLength)
    }

    /// Address of arena page 0.
    var firstPage: UnsafeMutableRawPointer { mapping + pageSize }

    /// Address of arena page `index`.
    func page(_ index: UInt32) -> UnsafeMutableRawPointer {
        firstPage + Int(index) * pageSize
    }
}
