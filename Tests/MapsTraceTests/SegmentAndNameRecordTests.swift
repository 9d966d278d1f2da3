import Foundation
import Testing
@testable import MapsTrace

/// Records 0x48 (shared-memory attach) and 0x49 (anonymous name): what a
/// shmat's line will show and the name a PR_SET_VMA_ANON_NAME prctl gave.
@Suite struct SegmentAndNameRecordTests {
    @Test func attachAndNameRecordsRoundTripAndAreCounted() throws {
        let records: [TraceRecord] = [
            .header(TraceFixtures.header),
            .traced(.sharedMemoryAttach(SharedMemoryAttach(
                syscall: 7, size: 3 * 4096 + 100, flags: 0o10000, deviceMajor: 0, deviceMinor: 1, inode: 229_376,
                path: "/SYSV00000000 (deleted)"))),
            .traced(.sharedMemoryAttach(SharedMemoryAttach(
                syscall: 8, size: 1 << 40, flags: 0o140000, deviceMajor: 0xfff, deviceMinor: 0xfffff, inode: 0,
                path: "/SYSV1234abcd (deleted)"))),
            .traced(.anonymousName(AnonymousName(syscall: 9, name: "alpha"))),
            // An empty name and a NULL one are different records.
            .traced(.anonymousName(AnonymousName(syscall: 10, name: ""))),
            .traced(.anonymousName(AnonymousName(syscall: 11, name: nil))),
            .trailer(TraceFixtures.trailer()),
        ]
        let (bytes, _) = try TraceFixtures.encode(records)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.unknownRecordsSkipped == 0)
        let summary = try TraceSummary.summarize(TraceReader(bytes: bytes))
        #expect(summary.sharedMemoryAttaches == 2)
        #expect(summary.anonymousNames == 3)
    }

    /// Both kinds are in the skippable range (older readers skip them; no
    /// version bump), and not the kind numbers before them.
    @Test func theKindsAreSkippable() {
        #expect(RecordKind.sharedMemoryAttach.rawValue >= RecordKind.firstSkippableKind)
        #expect(RecordKind.anonymousName.rawValue >= RecordKind.firstSkippableKind)
        #expect(recordKindName(0x48) == "shared-memory-attach")
        #expect(recordKindName(0x49) == "anonymous-name")
        #expect(RecordKind.sharedMemoryAttach.isTraced && RecordKind.anonymousName.isTraced)
    }
}
