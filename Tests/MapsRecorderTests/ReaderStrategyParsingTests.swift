import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct ReaderStrategyParsing {
    @Test func namedStrategies() throws {
        #expect(try ReaderStrategy(parsing: "chromium") == .chromium)
        #expect(try ReaderStrategy(parsing: "pmap") == .pmap)
        #expect(try ReaderStrategy(parsing: "cat") == .read(bytes: 131072))
        #expect(try ReaderStrategy(parsing: "read:1") == .read(bytes: 1))
        #expect(try ReaderStrategy(parsing: "read:4194304") == .read(bytes: 4 << 20))
    }

    @Test(arguments: ["", "chrome", "read:", "read:0", "read:-5", "read:+8", "read:4194305", "read:4k", "READ:10"])
    func rejectsBadValues(_ text: String) {
        #expect(throws: RecordingError.self) { try ReaderStrategy(parsing: text) }
        do {
            _ = try ReaderStrategy(parsing: text)
        } catch {
            guard case .invalidReaderStrategy = error else { Issue.record("expected invalidReaderStrategy, got \(error)"); return }
            #expect(error.description.contains("'\(text)'"))
        }
    }

    @Test func namesRoundTripAndFileNames() throws {
        for text in ["chromium", "pmap", "read:1024"] {
            #expect(try ReaderStrategy(parsing: text).description == text)
        }
        #expect(ReaderStrategy.read(bytes: 4096).fileNameComponent == "read4096")
        #expect(
            RecordingConfiguration.defaultOutputPath(workload: .rolling, reader: .read(bytes: 1024), seed: 7)
                == "rolling-read1024-seed7.mrtrace")
        #expect(
            RecordingConfiguration(seed: 42, toolVersion: "t").outputPath == "rolling-chromium-seed42.mrtrace")
    }

    @Test func workloads() throws {
        #expect(try Workload(parsing: "rolling") == .rolling)
        #expect(throws: RecordingError.invalidWorkload("spiral")) { try Workload(parsing: "spiral") }
    }
}
