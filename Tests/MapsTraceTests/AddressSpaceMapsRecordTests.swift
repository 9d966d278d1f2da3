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
