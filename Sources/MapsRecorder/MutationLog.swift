import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// One logged mapping syscall, as the mutator stores it in its hot loop:
/// plain values, no references, so a store is a few moves.
struct MutationSlot {
    var tBegin: UInt64
    var tEnd: UInt64
    var address: UInt64
    var length: UInt64
    var newAddress: UInt64
    var newLength: UInt64
    var result: Int64
    var prot: Int32
    var flags: Int32
    var errno: Int32
    var kind: MutationKind
}

/// The first mutation that failed: the workload stops there.
struct MutationFailure: Equatable {
    var sequence: Int
    var kind: MutationKind
    var address: UInt64
    var length: UInt64
    var errno: Int32
}

/// The mutator's log of mapping syscalls, and the only way a workload makes
/// them.
///
/// Each call is issued between two CLOCK_MONOTONIC readings (vDSO, no
/// syscall) and stored with its arguments, result and errno into the next
/// preallocated slot: no allocation, locking, formatting or I/O. The slots
/// are counted exactly in advance by the workload; a workload that issued
/// more would stop with ENOBUFS rather than write past them. Without logging
/// (`--no-log`) the same calls are made bare: no clock reads, no stores.
final class MutationLog {
    private let region: PreallocatedRegion?
    private let slots: UnsafeMutablePointer<MutationSlot>?
    /// The mutations the workload will issue in a complete run.
    let capacity: Int
    /// Mutations issued so far (with logging: the next free slot).
    private(set) var issued = 0
    private(set) var failure: MutationFailure?

    init(capacity: Int, logging: Bool) throws(RecordingError) {
        self.capacity = capacity
        if logging {
            let region = try PreallocatedRegion(
                byteCount: capacity * MemoryLayout<MutationSlot>.stride, purpose: "the mutation log")
            slots = region.bytes.bindMemory(to: MutationSlot.self).baseAddress
            self.region = region
        } else {
            slots = nil
            region = nil
        }
    }


    // MARK: - The syscalls

    /// mprotect(address, length, prot).
    @inline(__always)
    func protect(_ address: UnsafeMutableRawPointer, _ length: Int, _ prot: Int32) -> Bool {
        issue(.mprotect, address, length, prot: prot) { Int64(mprotect(address, length, prot)) }
    }

    /// mmap(address, length, prot, flags, -1, 0) of anonymous memory; `flags`
    /// should hold MAP_FIXED so the result is `address`.
    @inline(__always)
    func map(_ address: UnsafeMutableRawPointer, _ length: Int, _ prot: Int32, flags: Int32) -> Bool {
        issue(.mmap, address, length, prot: prot, flags: flags) {
            Int64(Int(bitPattern: mmap(address, length, prot, flags, -1, 0)))
        }
    }

    /// munmap(address, length).
    @inline(__always)
    func unmap(_ address: UnsafeMutableRawPointer, _ length: Int) -> Bool {
        issue(.munmap, address, length) { Int64(munmap(address, length)) }
    }

    /// mremap(address, length, newLength, flags, newAddress); `newAddress`
    /// only counts with MREMAP_FIXED. glibc declares mremap variadic, which
    /// Swift cannot call: `remapMemory` (MapsSystem) passes all five
    /// arguments to it.
    @inline(__always)
    func remap(
        _ address: UnsafeMutableRawPointer, _ length: Int, to newLength: Int, flags: Int32,
        newAddress: UnsafeMutableRawPointer? = nil
    ) -> Bool {
        issue(.mremap, address, length, flags: flags, newAddress: newAddress, newLength: newLength) {
            Int64(Int(bitPattern: remapMemory(address, length, newLength, flags, newAddress)))
        }
    }

    /// Every call: -1 is failure for all four syscalls (MAP_FAILED for mmap
    /// and mremap).
    @inline(__always)
    private func issue(
        _ kind: MutationKind, _ address: UnsafeMutableRawPointer, _ length: Int, prot: Int32 = 0,
        flags: Int32 = 0, newAddress: UnsafeMutableRawPointer? = nil, newLength: Int = 0,
        _ call: () -> Int64
    ) -> Bool {
        let sequence = issued
        guard sequence < capacity else {
            if failure == nil {
                failure = MutationFailure(
                    sequence: sequence, kind: kind, address: UInt64(UInt(bitPattern: address)),
                    length: UInt64(length), errno: ENOBUFS)
            }
            return false
        }
        issued = sequence + 1
        let result: Int64
        let code: Int32
        if let slots {
            let tBegin = MonotonicClock.now()
            result = call()
            code = result == -1 ? Errno.afterFailedCall.rawValue : 0
            let tEnd = MonotonicClock.now()
            slots[sequence] = MutationSlot(
                tBegin: tBegin, tEnd: tEnd, address: UInt64(UInt(bitPattern: address)), length: UInt64(length),
                newAddress: UInt64(UInt(bitPattern: newAddress)), newLength: UInt64(newLength), result: result,
                prot: prot, flags: flags, errno: code, kind: kind)
        } else {
            result = call()
            code = result == -1 ? Errno.afterFailedCall.rawValue : 0
        }
        guard result != -1 else {
            if failure == nil {
                failure = MutationFailure(
                    sequence: sequence, kind: kind, address: UInt64(UInt(bitPattern: address)),
                    length: UInt64(length), errno: code)
            }
            return false
        }
        return true
    }

    // MARK: - After the run

    /// The last logged mutation's end time (0 when nothing was logged).
    var lastMutationEnd: UInt64 {
        guard let slots, issued > 0 else { return 0 }
        return slots[issued - 1].tEnd
    }

    /// The logged mutations as trace records, sequence dense from 0.
    func records(threadID: Int32) -> [MutationRecord] {
        guard let slots else { return [] }
        return (0..<issued).map { sequence in
            let slot = slots[sequence]
            return MutationRecord(
                sequence: UInt64(sequence), kind: slot.kind, address: slot.address, length: slot.length,
                prot: slot.prot, flags: slot.flags, newAddress: slot.newAddress, newLength: slot.newLength,
                result: slot.result, errno: slot.errno, tBegin: slot.tBegin, tEnd: slot.tEnd, threadID: threadID)
        }
    }
}

// MARK: - mremap

/// MREMAP_MAYMOVE, MREMAP_FIXED and MREMAP_DONTUNMAP (linux/mman.h).
let mremapMayMove: Int32 = 1
let mremapFixed: Int32 = 2
let mremapDontUnmap: Int32 = 4
