import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct ReaderProcessValidation {
    private func configuration(snapshots: Int, logFD: Int32 = 3) -> ReaderProcessConfiguration {
        ReaderProcessConfiguration(
            targetPID: 1, strategy: .pmap, snapshotCount: snapshots, logFD: logFD, readyFD: 4, byteCapacity: 1 << 20)
    }

    @Test(arguments: [-1, 0, Int.min, ReaderProcessConfiguration.maximumSnapshotCapacity + 1])
    func rejectsSnapshotCountsTheTableCannotHold(snapshots: Int) {
        #expect(throws: RecordingError.self) { try configuration(snapshots: snapshots).validate() }
    }

    @Test func rejectsANegativeDescriptorAndAcceptsASaneConfiguration() throws {
        #expect(throws: RecordingError.self) { try configuration(snapshots: 1, logFD: -1).validate() }
        try configuration(snapshots: 20).validate()
    }
}
