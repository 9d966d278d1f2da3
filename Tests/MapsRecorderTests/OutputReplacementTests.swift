// A recording that fails after its output was opened must leave the file
// already at that path as it was, and no partial file beside it.

import MapsSystem
import MapsTestSupport
import Testing

@testable import MapsRecorder

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct OutputReplacement {
    /// The names in `directory`, "." and ".." left out.
    private func entries(of directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    private func contents(of path: String) -> [UInt8]? {
        guard case .success(let bytes) = readWholeFile(path) else { return nil }
        return bytes
    }

    @Test func aReaderThatCannotStartLeavesTheOldTraceAlone() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/trace.mrtrace"
        let previous = Array("an earlier trace\n".utf8)
        let file = try #require(fopen(path, "w"))
        _ = previous.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)

        let configuration = RecordingConfiguration(
            pageCount: 200, seed: 1, snapshotCount: 1, outputPath: path,
            readerExecutable: directory + "/no-such-reader", toolVersion: "test")
        do {
            _ = try record(configuration)
            Issue.record("recorded without a reader")
        } catch {
            guard case .readerFailed = error else { Issue.record("expected readerFailed, got \(error)"); return }
        }

        #expect(contents(of: path) == previous)
        #expect(entries(of: directory) == ["trace.mrtrace"])
    }

    @Test func anUnwritableDirectoryFailsBeforeAnythingRuns() throws {
        let configuration = RecordingConfiguration(
            pageCount: 200, seed: 1, snapshotCount: 1, outputPath: "/proc/no-such-directory/trace.mrtrace",
            toolVersion: "test")
        do {
            _ = try record(configuration)
            Issue.record("recorded into /proc")
        } catch {
            guard case .outputNotWritable = error else { Issue.record("expected outputNotWritable, got \(error)"); return }
        }
    }
}
