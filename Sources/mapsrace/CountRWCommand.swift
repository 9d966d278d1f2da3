import ArgumentParser
import MapsSystem
import MapsModel
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

struct CountRWCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count-rw",
        abstract: "Count the read-write pages inside an address range, one number per maps file.",
        discussion: """
            The seed's two counting scripts as one command. For each FILE, in order, prints the \
            number of read-write pages of the mappings that lie wholly inside [START, END): \
            start >= START and end <= END. A mapping straddling either bound does not count.

            Unlike the seed's Linux script, which tested end < END and so missed a read-write \
            mapping ending exactly at END, a mapping ending at END is counted. (The seed's \
            FreeBSD script compared only the start address with both bounds, so it counted a \
            mapping straddling END.)

            Examples:
              mapsrace count-rw saved-maps-*.txt --range 0x7fa44f494000 0x7fa45f27c000
              procstat vm 1234 | mapsrace count-rw - --range 825f28000 835d10000 --format freebsd

            Exit status 30 when a file cannot be read or parsed (numbers for the files \
            before it are already printed).
            """
    )

    @Argument(help: ArgumentHelp("Maps files to count; '-' reads standard input.", valueName: "file"))
    var files: [String] = []

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp("The address range [START, END), in hex with or without 0x.", valueName: "start end"))
    var range: [String]

    @Option(help: "Text format: linux (/proc/PID/maps) or freebsd (procstat vm).")
    var format: MapsFormat = .linux

    @Option(help: "Bytes per page.")
    var pageSize: UInt64 = 4096

    mutating func validate() throws {
        // `--range START END FILE...` works too: what follows the two
        // addresses is files.
        if range.count > 2 {
            files += range[2...]
            range.removeSubrange(2...)
        }
        guard !files.isEmpty else { throw ValidationError("Give at least one maps file ('-' for standard input).") }
        guard range.count == 2 else {
            throw ValidationError("--range takes exactly two addresses, START and END (got \(range.count)).")
        }
        let bounds = try addressBounds()
        guard bounds.start < bounds.end else {
            throw ValidationError("--range START must be below END.")
        }
        guard pageSize > 0 else { throw ValidationError("--page-size must be positive.") }
    }

    private func addressBounds() throws -> (start: UInt64, end: UInt64) {
        guard range.count == 2 else { throw ValidationError("--range takes START and END.") }
        var bounds: [UInt64] = []
        for text in range {
            guard let address = parseHexAddress(text) else {
                throw ValidationError("'\(text)' is not a hex address (like 0x7fa44f494000 or 7fa44f494000).")
            }
            bounds.append(address)
        }
        return (bounds[0], bounds[1])
    }

    func run() throws {
        let bounds = try addressBounds()
        guard bounds.start < bounds.end else { throw ValidationError("--range START must be below END.") }
        let addresses = bounds.start..<bounds.end
        try reportingFailures {
            for file in files {
                var counter = ReadWritePageCounter(format: format, range: addresses, pageSize: pageSize)
                print(try countStreaming(file, into: &counter))
            }
        }
    }
}

extension MapsFormat: ExpressibleByArgument {}

/// Feeds `path` (standard input for `-`) to `counter` 64 KiB at a time and
/// returns its total: memory stays bounded whatever the input's size.
func countStreaming(_ path: String, into counter: inout ReadWritePageCounter) throws(InputFileFailure) -> UInt64 {
    let descriptor: Int32
    switch path == "-" ? .success(STDIN_FILENO) : openFile(path, O_RDONLY) {
    case .success(let opened): descriptor = opened
    case .failure(let code): throw InputFileFailure(path: path, reason: code.text)
    }
    defer { if descriptor != STDIN_FILENO { close(descriptor) } }
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    defer { chunk.deallocate() }
    while true {
        let returned: Int
        switch readSome(descriptor, into: chunk) {
        case .success(let count): returned = count
        case .failure(let code): throw InputFileFailure(path: path, reason: code.text)
        }
        do throws(MapsParseError) {
            if returned == 0 { return try counter.finish() }
            try counter.add(UnsafeRawBufferPointer(rebasing: chunk[..<returned]))
        } catch {
            throw InputFileFailure(path: path, reason: error.description)
        }
    }
}
