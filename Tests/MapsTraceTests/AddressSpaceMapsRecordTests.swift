import Foundation
import Testing
@testable import MapsTrace

/// Record 0x40 (address-space maps): every traced address space's
/// quiescent texts, with whose they are.
@Suite struct AddressSpaceMapsRecordTests {
    @Test func addressSpaceMapsRoundTripAndAreCounted() throws {
        let text = TraceFixtures.mapsText(bytes: 3000, seed: 3)
        let origin = TraceFixtures.header.originNs
        let maps = [
            AddressSpaceMaps(pid: 41, generation: 1, role: .initial, tBegin: origin + 10, tEnd: origin + 20, text: text),
            AddressSpaceMaps(pid: 42, generation: 0, role: .final, tBegin: origin + 30, tEnd: origin + 45, text: []),
        ]
        let records: [TraceRecord] =
            [.header(TraceFixtures.header)] + maps.map { .traced(.addressSpaceMaps($0)) } + [.trailer(TraceFixtures.trailer())]
        let (bytes, _) = try TraceFixtures.encode(records)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.unknownRecordsSkipped == 0)
        let summary = try TraceSummary.summarize(TraceReader(bytes: bytes))
        #expect(summary.addressSpaceMaps == 2)
    }

    /// The kind is in the skippable range: a reader that does not know it
    /// (any before it was added) skips it by its length.
    @Test func theKindIsSkippable() {
        #expect(RecordKind.addressSpaceMaps.rawValue >= RecordKind.firstSkippableKind)
        #expect(recordKindName(RecordKind.addressSpaceMaps.rawValue) == "address-space-maps")
    }
}

/// Record 0x44 (PROCMAP_QUERY): the query, the answer when there is one.
@Suite struct ProcmapQueryRecordTests {
    static let answered = TracedProcmapQuery(
        syscall: 7, snapshot: 2, errno: 0, queryCopied: true, size: 104, queryFlags: 0x10, queryAddress: 0x7f00_0000_0000,
        nameBufferSize: 4097, buildIDBufferSize: 0,
        answer: .init(
            vmaStart: 0x7f00_0000_0000, vmaEnd: 0x7f00_0000_3000, vmaFlags: 5, pageSize: 4096, offset: 0x2000,
            inode: 1_234_567, deviceMajor: 254, deviceMinor: 1, nameSize: 9, buildIDSize: 20, name: Array("/usr/lib".utf8)))
    static let refused = TracedProcmapQuery(
        syscall: 8, snapshot: -1, errno: 25, queryCopied: true, size: 16, queryFlags: 0x10, queryAddress: 0,
        nameBufferSize: 0, buildIDBufferSize: 0, answer: nil)
    static let unreadable = TracedProcmapQuery(
        syscall: 9, snapshot: -1, errno: 14, queryCopied: false, size: 0, queryFlags: 0, queryAddress: 0,
        nameBufferSize: 0, buildIDBufferSize: 0, answer: nil)

    @Test func queriesRoundTripAndAreCounted() throws {
        let records: [TraceRecord] = [.header(TraceFixtures.header)]
            + [Self.answered, Self.refused, Self.unreadable].map { .traced(.procmapQuery($0)) }
            + [.trailer(TraceFixtures.trailer())]
        let (bytes, _) = try TraceFixtures.encode(records)
        let reader = TraceReader(bytes: bytes)
        #expect(try TraceFixtures.readAll(reader) == records)
        #expect(reader.unknownRecordsSkipped == 0)
        let summary = try TraceSummary.summarize(TraceReader(bytes: bytes))
        #expect(summary.procmapQueries == 3 && summary.procmapQueriesInWalks == 1)
    }

    /// Skippable: readers written before it skip it by its length.
    @Test func theKindIsSkippableAndNamed() {
        #expect(RecordKind.procmapQuery.rawValue >= RecordKind.firstSkippableKind)
        #expect(RecordKind.procmapQuery.rawValue != RecordKind.addressSpaceMaps.rawValue)
        #expect(recordKindName(RecordKind.procmapQuery.rawValue) == "procmap-query")
    }
}
