import Foundation
import Testing

/// Every trace error names its file first, even a file whose name is a word
/// of the message (`a`, `trace`): the prefix is not a substring test.
@Suite struct ErrorPrefixTests {
    /// The `mapsrace` built next to this test bundle.
    private var binary: String? {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [bundle.deletingLastPathComponent(), URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent()].map { $0.appendingPathComponent("mapsrace").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private func standardError(_ arguments: [String], in directory: URL) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(binary, "build mapsrace first (swift build)"))
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(arguments: ["a", "trace", "not"])
    func fileNamedLikeAWordOfTheMessageStillPrefixesIt(_ name: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prefix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data().write(to: directory.appendingPathComponent(name))

        let (empty, emptyMessage) = try standardError(["info", name], in: directory)
        #expect(empty == 11)
        #expect(emptyMessage == "mapsrace: error: \(name): not a mapsrace trace: it is empty.\n")

        let (missing, missingMessage) = try standardError(["analyze", name + "x"], in: directory)
        #expect(missing == 10)
        #expect(missingMessage == "mapsrace: error: \(name)x: No such file or directory (errno 2).\n")
    }
}
