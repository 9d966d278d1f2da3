import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// The seed's experiment on an arena of N pages:
/// 1. every even-indexed page PROT_READ (so every page is its own maps line);
/// 2. the page order shuffled with `SplitMix64(seed)`;
/// 3. the first page of that order read-write;
/// 4. the rolling loop: for i in 1..<N, page i read-write, then page i-1
///    PROT_NONE. At every instant 1 or 2 arena pages are read-write.
///
/// Steps 1 and 3 are the setup; step 4 is the loop the reader races.
enum RollingWorkload {
    static let readWrite = PROT_READ | PROT_WRITE

    /// ceil(N/2) + 1 + 2(N-1): exactly the mutations a complete run issues.
    static func mutationCount(pageCount: Int) -> Int {
        (pageCount + 1) / 2 + 1 + 2 * (pageCount - 1)
    }
}

/// The mutator's preallocated state: the page order and the mutation log,
/// both sized exactly for the workload before the arena exists, touched so
/// the experiment takes no page fault on them.
final class RollingMutator: LoggingMutator {
    private let orderRegion: PreallocatedRegion
    /// Arena page indices in the order the loop visits them.
    let order: UnsafeMutableBufferPointer<UInt32>
    let log: MutationLog

    init(pageCount: Int, seed: UInt64, logMutations: Bool) throws(RecordingError) {
        orderRegion = try PreallocatedRegion(byteCount: pageCount * MemoryLayout<UInt32>.stride, purpose: "the page order")
        order = UnsafeMutableBufferPointer(rebasing: orderRegion.bytes.bindMemory(to: UInt32.self)[0..<pageCount])
        for index in 0..<pageCount { order[index] = UInt32(index) }
        shufflePageOrder(order, seed: seed)
        log = try MutationLog(capacity: RollingWorkload.mutationCount(pageCount: pageCount), logging: logMutations)
    }

    /// The setup: even pages PROT_READ, then the first page of the order
    /// read-write. false if a mutation failed.
    func runSetup(on arena: Arena) -> Bool {
        var page: UInt32 = 0
        while Int(page) < arena.pageCount {
            guard log.protect(arena.page(page), arena.pageSize, PROT_READ) else { return false }
            page += 2
        }
        return log.protect(arena.page(order[0]), arena.pageSize, RollingWorkload.readWrite)
    }

    /// The rolling loop: page i read-write, then page i-1 PROT_NONE, each
    /// mprotect timed and stored by the log (bare with `--no-log`). Nothing
    /// else: no allocation, no locking, no I/O.
    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        let pageCount = arena.pageCount
        let order = UnsafePointer(self.order.baseAddress!)
        let log = self.log
        var index = 1
        while index < pageCount {
            if StopSignal.received != 0 { break }
            guard log.protect(first + Int(order[index]) * pageSize, pageSize, RollingWorkload.readWrite),
                  log.protect(first + Int(order[index - 1]) * pageSize, pageSize, PROT_NONE)
            else { break }
            index += 1
        }
    }
}
