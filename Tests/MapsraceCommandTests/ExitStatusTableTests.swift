// The one exit-status table (ExitStatus in the `mapsrace` target) against the
// README's "Exit status" table, and every library error against the table.

import Foundation
import MapsAnalysis
import MapsCheck
import MapsModel
import MapsRecorder
import MapsSurvey
import MapsTrace
import Testing

@testable import mapsrace

/// The package root: three levels above this file.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct ExitStatusTable {
    /// The rows of the README's "### Exit status" table: (codes, meaning).
    static func readmeRows() throws -> [(String, String)] {
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let heading = try #require(lines.firstIndex(of: "### Exit status"))
        var rows: [(String, String)] = []
        for line in lines[(heading + 1)...] {
            if line.isEmpty && rows.isEmpty { continue }
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, cells[0] != "code", !cells[0].hasPrefix("---") else { continue }
            rows.append((cells[0], cells[1]))
        }
        return rows
    }

    @Test func theReadmeTableIsTheCodeTable() throws {
        let readme = try Self.readmeRows()
        let code = ExitStatus.allCases.map { ($0.readmeCodes, $0.meaning) }
        #expect(readme.map(\.0) == code.map(\.0))
        #expect(readme.map(\.1) == code.map(\.1))
    }

    @Test func interruptedIs128PlusTheSignal() {
        #expect(ExitStatus.interruptedCode(by: SIGINT) == 130)
        #expect(ExitStatus.interruptedCode(by: SIGTERM) == 143)
    }

    @Test func everyLibraryErrorHasItsStatus() {
        let cut = TraceTruncation(blocksRecovered: 1, recordsRecovered: 2, byteOffset: 3)
        let cases: [(any Error, Int32)] = [
            (TraceError.io(path: "t", errno: EIO), 10),
            (TraceError.notATrace("x"), 11),
            (TraceError.unsupportedVersion(9), 12),
            (TraceError.truncated(cut), 13),
            (TraceError.checksumMismatch(block: 0, byteOffset: 0), 14),
            (TraceError.corruptBlock(block: 0, byteOffset: 0, reason: "x"), 14),
            (TraceError.malformedBlock(block: 0, byteOffset: 0, reason: "x"), 15),
            (TraceError.malformedRecord(byteOffset: 0, kind: 1, reason: "x"), 15),
            (AnalysisError.trace(.notATrace("x")), 11),
            (AnalysisError.missingRecord("arena"), 15),
            (AnalysisError.noSuchSnapshot(5, available: 2), 31),
            (AnalysisError.noSuchState(9, first: 0, last: 3), 31),
            (AnalysisError.snapshotLostToTruncation(5, available: 1, cut), 13),
            (ExtractError.outputNotWritable(path: "d", errno: EACCES), 22),
            (ExtractError.noSuchSnapshot(7, available: [0, 1], truncated: false), 31),
            (ExtractError.noSuchSnapshot(7, available: [0], truncated: true), 13),
            (RecordingError.invalidReaderStrategy("x", reason: "y"), 64),
            (RecordingError.invalidWorkload("x"), 64),
            (RecordingError.invalidConfiguration("x"), 64),
            (RecordingError.arenaExceedsMapCount(limit: 1, needed: 2, pages: 3), 20),
            (RecordingError.mapsNotReadable(path: "m", errno: EACCES), 21),
            (RecordingError.outputNotWritable(path: "o", reason: "r"), 22),
            (RecordingError.readerFailed("r"), 23),
            (RecordingError.systemCallFailed("c", errno: EIO), 24),
            (RecordingError.mutationFailed(sequence: 0, kind: .mprotect, address: 0, length: 0, errno: 0, trace: nil), 24),
            (SurveyError.invalidPlan("p"), 64),
            (SurveyError.directoryNotWritable(path: "d", reason: "r"), 22),
            (InputFileFailure(path: "i", reason: "r"), 30),
            (CheckError.unreadable(.noSuchFileOrDirectory), 40),
            (CheckError.binary(byte: 0, offset: 0, line: 1), 41),
            (CheckError.notMaps(MapsParseError(line: 1, column: 1, reason: "r"), format: .linux), 41),
            (CheckError.lineTooLong(line: 1, limit: 2), 42),
            (CheckError.inputTooLarge(limit: 3), 42),
            (CheckError.badMinidump("m"), 43),
            (CheckError.noMapsStream(streamTypes: []), 43),
        ]
        for (error, status) in cases {
            #expect(ExitStatus.of(error) == status, "\(error)")
        }
        #expect(ExitStatus.of(CancellationError()) == nil)
    }
}
