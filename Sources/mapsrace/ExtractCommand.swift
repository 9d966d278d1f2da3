import ArgumentParser
import MapsAnalysis
import MapsTrace

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Write the observed snapshots back out as the seed's saved-maps files.",
        discussion: """
            Writes each observed snapshot exactly as it was read (its read chunks' bytes, in \
            sequence order) to DIR/saved-maps-NN.txt, NN being the snapshot index in two digits \
            or more, and the initial quiescent maps to DIR/saved-maps.txt, so the seed's own \
            scripts run on them unchanged. DIR is created if missing. With --snapshot, only \
            that snapshot (and saved-maps.txt) is written.

            Example:
              mapsrace extract seed.mrtrace -o seed-maps
              mapsrace count-rw seed-maps/saved-maps-*.txt --range START END

            A truncated trace: what was recovered is written, then exit 13. \
            A snapshot not in the trace: exit 31.
            """
    )

    @OptionGroup var input: TraceArgument
    var trace: String { input.trace }

    @Option(name: [.customShort("o"), .customLong("output")], help: "Directory to write the files into.")
    var directory: String

    @Option(help: "Write only this snapshot.")
    var snapshot: UInt32?

    func validate() throws {
        guard !directory.isEmpty else { throw ValidationError("-o needs a directory name.") }
    }

    func run() throws {
        let completion = try reportingFailures(about: trace) {
            let reader = try TraceReader(path: trace)
            let result = try extractSnapshots(from: reader, to: directory, only: snapshot) { file in
                print("wrote \(file.path) (\(file.byteCount) bytes, \(describe(file.content)))")
            }
            for case let .snapshot(index, _, false) in result.files.map(\.content) {
                printError("mapsrace: warning: snapshot \(index) ends before its end record: written as far as it was read.")
            }
            if result.strayChunks > 0 {
                printError("mapsrace: warning: \(result.strayChunks) read chunks came after their snapshot was written and were left out.")
            }
            return result.completion
        }
        try exitForTruncation(of: trace, completion: completion, done: "written")
    }
}

private func describe(_ content: ExtractedFile.Content) -> String {
    switch content {
    case .initialMaps: "initial quiescent maps"
    case let .snapshot(index, reads, complete):
        "snapshot \(index), \(reads) reads" + (complete ? "" : ", incomplete")
    }
}
