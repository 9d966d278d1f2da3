// The mutation log: mremap through its MapsSystem shim, and mutation failures
// named by their syscall.

import Foundation
import MapsTrace
import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

/// A private anonymous PROT_NONE mapping of `pages` pages, unmapped at the end.
private final class ScratchMapping {
    let start: UnsafeMutableRawPointer
    let length: Int

    init(pages: Int) throws {
        length = pages * MachineLimits.pageSize
        let address = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        start = try #require(address == MAP_FAILED ? nil : address, "mmap of \(pages) scratch pages")
    }

    func page(_ index: Int) -> UnsafeMutableRawPointer { start + index * MachineLimits.pageSize }

    deinit { munmap(start, length) }
}

@Suite struct MutationLogMremap {
    /// MREMAP_FIXED moves the page to exactly the fifth argument: the shim
    /// must hand it to the kernel (a dropped argument would move it elsewhere
    /// or fail with EINVAL).
    @Test func aFixedMoveLandsAtTheNewAddress() throws {
        let scratch = try ScratchMapping(pages: 4)
        let log = try MutationLog(capacity: 1, logging: true)
        let moved = log.remap(
            scratch.page(0), MachineLimits.pageSize, to: MachineLimits.pageSize, flags: mremapMayMove | mremapFixed,
            newAddress: scratch.page(2))
        #expect(moved)
        #expect(log.failure == nil)
        let record = try #require(log.records(threadID: 0).first)
        #expect(record.kind == .mremap)
        #expect(record.result == Int64(Int(bitPattern: scratch.page(2))))
        #expect(record.newAddress == UInt64(UInt(bitPattern: scratch.page(2))))
        #expect(record.errno == 0)
    }

    @Test func aRefusedMremapIsTheFailureWithItsKindAndLength() throws {
        let scratch = try ScratchMapping(pages: 2)
        let log = try MutationLog(capacity: 2, logging: true)
        // An unaligned old address: EINVAL, whatever the kernel.
        let misaligned = scratch.page(0) + 1
        #expect(!log.remap(misaligned, MachineLimits.pageSize, to: 2 * MachineLimits.pageSize, flags: 0))
        let failure = try #require(log.failure)
        #expect(failure.kind == .mremap)
        #expect(failure.sequence == 0)
        #expect(failure.address == UInt64(UInt(bitPattern: misaligned)))
        #expect(failure.length == UInt64(MachineLimits.pageSize))
        #expect(failure.errno == EINVAL)
        // A later success does not replace the first failure.
        #expect(log.protect(scratch.page(1), MachineLimits.pageSize, PROT_READ))
        #expect(log.failure == failure)
    }
}

@Suite struct MutationFailureMessage {
    @Test func namesTheSyscallAddressAndLength() {
        let error = RecordingError.mutationFailed(
            sequence: 17, kind: .mremap, address: 0x7f00_0000_3000, length: 12288, errno: EINVAL,
            trace: "out.mrtrace")
        #expect(
            error.description
                == "mutation 17 (mremap of 0x7f0000003000, 12288 bytes) failed: \(errorText(EINVAL)) (errno 22); "
                + "the trace up to it was written to out.mrtrace")
    }

    @Test(arguments: MutationKind.allCases)
    func everyKindIsNamedAsItsSyscall(_ kind: MutationKind) {
        let error = RecordingError.mutationFailed(
            sequence: 0, kind: kind, address: 0x1000, length: 4096, errno: ENOMEM, trace: nil)
        #expect(error.description.hasPrefix("mutation 0 (\(kind.description) of 0x1000, 4096 bytes) failed: "))
        #expect(error.description.hasSuffix("; no trace was written"))
    }
}
