internal import CProcfs
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// One logged mutation, as the mutator stores it in the hot loop: plain
/// values, no references, so a store is a few moves.
struct MutationSlot {
    var tBegin: UInt64
    var tEnd: UInt64
    var address: UInt64
    var length: UInt64
    var result: Int64
    var prot: Int32
    var errno: Int32
}

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
final class RollingMutator {
    private let orderRegion: PreallocatedRegion
    private let logRegion: PreallocatedRegion?
    /// Arena page indices in the order the loop visits them.
    let order: UnsafeMutableBufferPointer<UInt32>
    private let log: UnsafeMutablePointer<MutationSlot>?
    private let logCapacity: Int
    /// Mutations issued so far (with logging: the next free log slot).
    private(set) var issued = 0
    /// The first failed mutation, if any: the run stops there.
    private(set) var failure: (sequence: Int, address: UInt64, errno: Int32)?

    init(pageCount: Int, seed: UInt64, logMutations: Bool) throws(RecordingError) {
        orderRegion = try PreallocatedRegion(byteCount: pageCount * MemoryLayout<UInt32>.stride, purpose: "the page order")
        order = UnsafeMutableBufferPointer(rebasing: orderRegion.bytes.bindMemory(to: UInt32.self)[0..<pageCount])
        for index in 0..<pageCount { order[index] = UInt32(index) }
        shufflePageOrder(order, seed: seed)
        if logMutations {
            logCapacity = RollingWorkload.mutationCount(pageCount: pageCount)
            let region = try PreallocatedRegion(
                byteCount: logCapacity * MemoryLayout<MutationSlot>.stride, purpose: "the mutation log")
            log = region.bytes.bindMemory(to: MutationSlot.self).baseAddress
            logRegion = region
        } else {
            logCapacity = 0
            log = nil
            logRegion = nil
        }
    }

    var logsMutations: Bool { log != nil }

    /// The setup: even pages PROT_READ, then the first page of the order
    /// read-write. false if a mutation failed.
    func runSetup(on arena: Arena) -> Bool {
        var page: UInt32 = 0
        while Int(page) < arena.pageCount {
            guard setupProtect(arena.page(page), arena.pageSize, PROT_READ) else { return false }
            page += 2
        }
        return setupProtect(arena.page(order[0]), arena.pageSize, RollingWorkload.readWrite)
    }

    private func setupProtect(_ address: UnsafeMutableRawPointer, _ length: Int, _ prot: Int32) -> Bool {
        if let log {
            let succeeded = loggedProtect(address, length, prot, into: log + issued)
            issued += 1
            return succeeded
        }
        issued += 1
        let result = mprotect(address, length, prot)
        if result != 0 { failure = (issued - 1, UInt64(UInt(bitPattern: address)), errno) }
        return result == 0
    }

    /// mprotect between two CLOCK_MONOTONIC readings, stored in `slot`.
    @inline(__always)
    private func loggedProtect(
        _ address: UnsafeMutableRawPointer, _ length: Int, _ prot: Int32, into slot: UnsafeMutablePointer<MutationSlot>
    ) -> Bool {
        let tBegin = monotonicNanoseconds()
        let result = mprotect(address, length, prot)
        let tEnd = monotonicNanoseconds()
        let code = result == 0 ? 0 : errno
        slot.pointee = MutationSlot(
            tBegin: tBegin, tEnd: tEnd, address: UInt64(UInt(bitPattern: address)), length: UInt64(length),
            result: Int64(result), prot: prot, errno: code)
        if result != 0 && failure == nil {
            failure = (log.map { slot - $0 } ?? 0, UInt64(UInt(bitPattern: address)), code)
        }
        return result == 0
    }

    /// The rolling loop. With logging, every mprotect is timed and stored;
    /// without, the same loop runs bare. Stops early when a SIGINT or
    /// SIGTERM arrives (a plain load of the handler's flag per iteration) or a
    /// mutation fails.
    func runLoop(on arena: Arena) {
        let first = arena.firstPage
        let pageSize = arena.pageSize
        let pageCount = arena.pageCount
        let order = UnsafePointer(self.order.baseAddress!)
        if let log {
            issued = Self.loggedLoop(
                first: first, pageSize: pageSize, pageCount: pageCount, order: order,
                log: log, issued: issued, mutator: self)
        } else {
            issued = Self.unloggedLoop(
                first: first, pageSize: pageSize, pageCount: pageCount, order: order,
                issued: issued, mutator: self)
        }
    }

    /// The logged hot loop: two vDSO clock reads and one slot store around
    /// each mprotect. Nothing else: no allocation, no locking, no I/O.
    private static func loggedLoop(
        first: UnsafeMutableRawPointer, pageSize: Int, pageCount: Int, order: UnsafePointer<UInt32>,
        log: UnsafeMutablePointer<MutationSlot>, issued start: Int, mutator: RollingMutator
    ) -> Int {
        var slot = log + start
        var index = 1
        while index < pageCount {
            if mapsrace_stop_signal() != 0 { break }
            let rising = first + Int(order[index]) * pageSize
            guard mutator.loggedProtect(rising, pageSize, RollingWorkload.readWrite, into: slot) else {
                return slot - log + 1
            }
            slot += 1
            let falling = first + Int(order[index - 1]) * pageSize
            guard mutator.loggedProtect(falling, pageSize, PROT_NONE, into: slot) else {
                return slot - log + 1
            }
            slot += 1
            index += 1
        }
        return slot - log
    }

    /// The same loop without timestamps or stores (`--no-log`).
    private static func unloggedLoop(
        first: UnsafeMutableRawPointer, pageSize: Int, pageCount: Int, order: UnsafePointer<UInt32>,
        issued start: Int, mutator: RollingMutator
    ) -> Int {
        var issued = start
        var index = 1
        while index < pageCount {
            if mapsrace_stop_signal() != 0 { break }
            let rising = first + Int(order[index]) * pageSize
            issued += 1
            guard mprotect(rising, pageSize, RollingWorkload.readWrite) == 0 else {
                mutator.failure = (issued - 1, UInt64(UInt(bitPattern: rising)), errno)
                break
            }
            let falling = first + Int(order[index - 1]) * pageSize
            issued += 1
            guard mprotect(falling, pageSize, PROT_NONE) == 0 else {
                mutator.failure = (issued - 1, UInt64(UInt(bitPattern: falling)), errno)
                break
            }
            index += 1
        }
        return issued
    }

    /// The last logged mutation's end time (0 when nothing was logged).
    var lastMutationEnd: UInt64 {
        guard let log, issued > 0 else { return 0 }
        return log[issued - 1].tEnd
    }

    /// The logged mutations as trace records, sequence dense from 0.
    func mutationRecords(threadID: Int32) -> [MutationRecord] {
        guard let log else { return [] }
        return (0..<issued).map { sequence in
            let slot = log[sequence]
            return MutationRecord(
                sequence: UInt64(sequence), kind: .mprotect, address: slot.address, length: slot.length,
                prot: slot.prot, result: slot.result, errno: slot.errno, tBegin: slot.tBegin, tEnd: slot.tEnd,
                threadID: threadID)
        }
    }
}
