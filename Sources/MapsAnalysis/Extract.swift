import MapsSystem
// `extract`: the observed snapshots of a trace back as the seed's files, so
// the seed's own scripts run on them unchanged:
//   saved-maps.txt      the initial quiescent maps
//   saved-maps-NN.txt   snapshot NN exactly as read: its read chunks'
//                       bytes concatenated in sequence order
//
// The trace is streamed: only the snapshot being gathered is in memory.

import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// One file `extractSnapshots` wrote.
public struct ExtractedFile: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case initialMaps
        /// Observed snapshot `index`, from `reads` read chunks; `complete` is
        /// false when the trace ended before the snapshot's end record.
        case snapshot(index: UInt32, reads: Int, complete: Bool)
    }

    public var path: String
    public var byteCount: Int
    public var content: Content

    public init(path: String, byteCount: Int, content: Content) {
        self.path = path
        self.byteCount = byteCount
        self.content = content
    }
}

/// What an extraction wrote, and how the trace ended.
public struct ExtractionResult: Sendable, Equatable {
    public var files: [ExtractedFile]
    public var completion: TraceCompletion
    /// The snapshot indices the trace holds (all of them, even with `--snapshot`).
    public var snapshotsInTrace: [UInt32]
    /// Read chunks that came after their snapshot's file was written (their
    /// snapshot had ended, or another one had begun); they are left out.
    public var strayChunks: Int
}

/// Why an extraction stopped, beyond the trace reader's own errors.
public enum ExtractError: Error, CustomStringConvertible, Equatable {
    /// The output directory or a file in it could not be created or written.
    case outputNotWritable(path: String, errno: Int32)
    /// `--snapshot N` named a snapshot the (readable part of the) trace does
    /// not hold. In a truncated trace it may have been lost to the cut: that
    /// is the truncation (13, as `analyze` and `diff` report it), not 31.
    case noSuchSnapshot(UInt32, available: [UInt32], truncated: Bool)

    public var description: String {
        switch self {
        case let .outputNotWritable(path, code):
            return "\(path): \(errorText(code)) (errno \(code))."
        case let .noSuchSnapshot(index, available, truncated):
            let held = available.isEmpty
                ? "holds no snapshots"
                : "holds snapshots \(available.first ?? 0) to \(available.last ?? 0)"
            return "snapshot \(index) is not in the trace: it \(held)"
                + (truncated ? " before the point where it is truncated." : ".")
        }
    }
}

/// The seed's name for snapshot `index`: two digits at least (`saved-maps-07.txt`).
public func snapshotFileName(_ index: UInt32) -> String {
    let digits = String(index)
    return "saved-maps-" + (digits.count < 2 ? "0" + digits : digits) + ".txt"
}

/// The seed's name for the initial quiescent maps.
public let initialMapsFileName = "saved-maps.txt"

/// Writes the initial quiescent maps and the observed snapshots (or only
/// snapshot `only`, with the initial maps) of the trace `reader` streams into
/// `directory`, creating it if missing. `wrote` hears of each file as soon
/// as it is on disk.
///
/// A truncated trace is not an error here: whatever was recovered is
/// written, and `completion` tells the caller. A snapshot cut off by the end
/// of the trace is written as far as it was read, marked incomplete.
public func extractSnapshots(
    from reader: TraceReader, to directory: String, only: UInt32? = nil,
    wrote: (ExtractedFile) -> Void = { _ in }
) throws -> ExtractionResult {
    // The directory is made when the first file is written, so that a file
    // that is no trace leaves nothing behind.
    var directoryMade = false
    var files: [ExtractedFile] = []
    var snapshotsInTrace: [UInt32] = []
    var gathering: SnapshotBytes?
    var written: Set<UInt32> = []
    var strayChunks = 0

    func emit(_ file: ExtractedFile) {
        files.append(file)
        wrote(file)
    }

    func flush(complete: Bool) throws {
        guard let snapshot = gathering else { return }
        gathering = nil
        written.insert(snapshot.index)
        let path = directory + "/" + snapshotFileName(snapshot.index)
        let byteCount = try writeFileMakingDirectory(path, snapshot.chunks.sorted { $0.sequence < $1.sequence }.map(\.bytes))
        emit(ExtractedFile(
            path: path, byteCount: byteCount,
            content: .snapshot(index: snapshot.index, reads: snapshot.chunks.count, complete: complete)))
    }

    func wanted(_ index: UInt32) -> Bool { only.map { $0 == index } ?? true }

    func writeFileMakingDirectory(_ path: String, _ parts: [[UInt8]]) throws -> Int {
        if !directoryMade {
            try makeDirectory(directory)
            directoryMade = true
        }
        return try writeFile(path, parts)
    }

    while let record = try reader.next() {
        switch record {
        case .quiescentMaps(let maps) where maps.role == .initial:
            let path = directory + "/" + initialMapsFileName
            emit(ExtractedFile(path: path, byteCount: try writeFileMakingDirectory(path, [maps.text]), content: .initialMaps))
        case .snapshotBegin(let begin):
            try flush(complete: false)
            if snapshotsInTrace.last != begin.index { snapshotsInTrace.append(begin.index) }
            if wanted(begin.index) { gathering = SnapshotBytes(index: begin.index) }
        case .readChunk(let chunk):
            guard wanted(chunk.snapshot) else { continue }
            guard !written.contains(chunk.snapshot) else {
                strayChunks += 1
                continue
            }
            if gathering?.index != chunk.snapshot {
                // A chunk without a begin record: gather it under its own index.
                try flush(complete: false)
                gathering = SnapshotBytes(index: chunk.snapshot)
                if !snapshotsInTrace.contains(chunk.snapshot) { snapshotsInTrace.append(chunk.snapshot) }
            }
            if chunk.returned > 0 { gathering?.chunks.append((chunk.sequence, chunk.bytes)) }
        case .snapshotEnd(let end):
            if gathering?.index == end.index { try flush(complete: true) }
        default:
            continue
        }
    }
    try flush(complete: false)

    if let only, !snapshotsInTrace.contains(only) {
        let truncated = if case .truncated = reader.completion { true } else { false }
        throw ExtractError.noSuchSnapshot(only, available: snapshotsInTrace, truncated: truncated)
    }
    return ExtractionResult(
        files: files, completion: reader.completion, snapshotsInTrace: snapshotsInTrace, strayChunks: strayChunks)
}

/// The read chunks of the snapshot being gathered.
private struct SnapshotBytes {
    var index: UInt32
    var chunks: [(sequence: UInt32, bytes: [UInt8])] = []
}

/// `mkdir -p`.
private func makeDirectory(_ path: String) throws(ExtractError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if case .failure(let failure) = checkedCall({ mkdir(prefix, 0o755) }) {
            let code = failure.rawValue
            var status = stat()
            guard code == EEXIST, stat(prefix, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw .outputNotWritable(path: prefix, errno: code == EEXIST ? ENOTDIR : code)
            }
        }
        prefix += "/"
    }
}

/// Writes `pieces` one after another to `path` (created or truncated);
/// returns the number of bytes written.
private func writeFile(_ path: String, _ pieces: [[UInt8]]) throws(ExtractError) -> Int {
    let descriptor: Int32
    switch openFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644) {
    case .success(let opened): descriptor = opened
    case .failure(let code): throw .outputNotWritable(path: path, errno: code.rawValue)
    }
    var total = 0
    for piece in pieces {
        if case .failure(let code) = piece.withUnsafeBytes({ writeAll(descriptor, $0) }) {
            close(descriptor)
            throw .outputNotWritable(path: path, errno: code.rawValue)
        }
        total += piece.count
    }
    if case .failure(let code) = checkedCall({ close(descriptor) }) {
        throw .outputNotWritable(path: path, errno: code.rawValue)
    }
    return total
}
