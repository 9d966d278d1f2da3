import Foundation
import Testing
@testable import MapsTrace

@Suite struct RoundTripTests {
    @Test func everyRecordKindRoundTrips() throws {
        let records = TraceFixtures.smallTrace()
        let (bytes, writer) = try TraceFixtures.encode(records)
        #expect(writer.compressedBytesWritten == UInt64(bytes.count))
        let reader = TraceReader(bytes: bytes)
        let decoded = try TraceFixtures.readAll(reader)
        #expect(decoded == records)
        #expect(reader.completion == .complete)
        #expect(reader.header == TraceFixtures.header)
        #expect(reader.recordsRead == records.count)
        #expect(reader.rawBytesRead == writer.rawBytesWritten)
    }
}
