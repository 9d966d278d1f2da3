import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct SnapshotTableBounds {
    private func configuration(snapshots: Int, reader: ReaderStrategy) -> RecordingConfiguration {
        RecordingConfiguration(pageCount: 200, seed: 1, reader: reader, snapshotCount: snapshots, toolVersion: "test")
    }

    @Test func retryStableAttemptsMustFitTheTable() throws {
        let tooMany = configuration(snapshots: 100_000, reader: .retryStable(maxAttempts: 1000))
        #expect(throws: RecordingError.self) { try tooMany.validate() }
        try configuration(snapshots: 1000, reader: .retryStable(maxAttempts: 1000)).validate()
        try configuration(snapshots: 100_000, reader: .chromium).validate()
    }

    @Test func onlyTheExpectedAttemptsArePopulated() {
        let reader = ReaderProcessConfiguration(
            targetPID: 1, strategy: .retryStable(maxAttempts: 50), snapshotCount: 10, logFD: -1, readyFD: -1,
            byteCapacity: 1 << 20)
        #expect(reader.snapshotCapacity == 500)
        #expect(reader.populatedSnapshotCount == 20)
        #expect(ReaderProcessConfiguration.snapshotEntries(Int.max, attemptsEach: 2)
            == ReaderProcessConfiguration.maximumSnapshotCapacity)
    }
}
