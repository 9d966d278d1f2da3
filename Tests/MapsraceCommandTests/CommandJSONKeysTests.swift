// Every command's JSON against its document in docs/: the top-level keys a
// real run prints are the keys the document's first table lists, in the
// document's order where it promises one (record, info) and sorted where it
// promises that (analyze, survey).

import Foundation
import MapsTestSupport
import Testing

/// The keys of the first `| key | ...` table of a document (or of the one
/// `table` counts to, from 0), in order; a cell listing several (`a`, `b`)
/// gives each.
func documentedKeys(_ document: String, table: Int = 0) throws -> [String] {
    let text = try String(contentsOfFile: packageRoot + "/docs/" + document, encoding: .utf8)
    var keys: [String] = []
    var inTable = false
    var tablesSeen = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("| key |") {
            tablesSeen += 1
            inTable = tablesSeen == table + 1
            continue
        }
        guard inTable else { continue }
        guard line.hasPrefix("|") else { if !keys.isEmpty { break } else { continue } }
        let cell = line.split(separator: "|", omittingEmptySubsequences: false)[1]
        // Only the backquoted names of the key column.
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() where index % 2 == 1 { keys.append(String(part)) }
    }
    return keys
}

/// The keys of a JSON object's outermost level, in the order printed.
func topLevelKeys(_ json: String) -> [String] {
    var keys: [String] = []
    var depth = 0
    var inString = false
    var escaped = false
    var current = ""
    var lastString: String?
    for character in json {
        if inString {
            if escaped { escaped = false; current.append(character); continue }
            if character == "\\" { escaped = true; continue }
            if character == "\"" { inString = false; lastString = current; continue }
            current.append(character)
            continue
        }
        switch character {
        case "\"": inString = true; current = ""
        case "{", "[": depth += 1; lastString = nil
        case "}", "]": depth -= 1; lastString = nil
        case ":": if depth == 1, let key = lastString { keys.append(key) }; lastString = nil
        case ",": lastString = nil
        default: break
        }
    }
    return keys
}

@Suite(.serialized) struct CommandJSONKeys {
    let directory: String
    init() throws { directory = try makeTemporaryDirectory("json-keys") }

    func run(_ arguments: [String]) throws -> String {
        let run = try runMapsrace(arguments, in: directory)
        try #require(run.exitCode == 0, "mapsrace \(arguments): \(run.standardError)")
        return run.standardOutput
    }

    func recordSmallTrace() throws -> String {
        _ = try run(["record", "--pages", "300", "--snapshots", "3", "--seed", "1", "-o", "t.mrtrace"])
        return directory + "/t.mrtrace"
    }

    @Test func recordJSONHasTheDocumentedKeysInOrder() throws {
        defer { removeTemporaryDirectory(directory) }
        let json = try run(["record", "--pages", "300", "--snapshots", "3", "--seed", "1", "--json", "-o", "t.mrtrace"])
        let documented = try documentedKeys("record-json.md")
        #expect(documented.count == 18)
        #expect(topLevelKeys(json) == documented)
    }

    @Test func tracedRecordJSONHasTheDocumentedKeysInOrder() throws {
        defer { removeTemporaryDirectory(directory) }
        let json = try run(["record", "--json", "-o", "c.mrtrace", "--", "sh", "-c", "cat /proc/self/maps >/dev/null"])
        #expect(topLevelKeys(json) == (try documentedKeys("record-json.md", table: 1)))
        let info = try run(["info", "--json", directory + "/c.mrtrace"])
        #expect(topLevelKeys(info) == (try documentedKeys("info-json.md")))
        #expect(info.contains("\"command\":\"/usr/bin/cat\"") || info.contains("\"command\":\"/bin/cat\""))
    }

    @Test func infoJSONHasTheDocumentedKeysInOrder() throws {
        defer { removeTemporaryDirectory(directory) }
        let trace = try recordSmallTrace()
        let documented = try documentedKeys("info-json.md")
        #expect(documented.first == "format_version")
        #expect(topLevelKeys(try run(["info", "--json", trace])) == documented)
    }

    @Test func analyzeJSONHasTheDocumentedKeysSorted() throws {
        defer { removeTemporaryDirectory(directory) }
        let trace = try recordSmallTrace()
        let keys = topLevelKeys(try run(["analyze", "--json", trace]))
        #expect(keys.contains("snapshots") && keys.contains("arena_start") && keys.contains("arena_end"))
        #expect(keys == keys.sorted())
        #expect(keys.sorted() == (try documentedKeys("analysis-json.md")).sorted())
    }

    /// `check --json` is an array with one object per input: each object's
    /// keys (an input checked and one that failed) and a finding's keys.
    @Test func checkJSONHasTheDocumentedKeysSorted() throws {
        defer { removeTemporaryDirectory(directory) }
        let torn = "00001000-00002000 r--p 00000000 00:00 0 \n00001000-00003000 r--p 00000000 00:00 0 \n"
        _ = try #require(FileManager.default.createFile(atPath: directory + "/torn.txt", contents: Data(torn.utf8)))
        defer { unlink(directory + "/torn.txt") }
        let run = try runMapsrace(["check", "--json", "torn.txt", "missing.txt"], in: directory)
        #expect(run.exitCode == 40)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [[String: Any]])
        try #require(entries.count == 2)
        let documented = try documentedKeys("check-json.md")
        #expect(documented.count == 12)
        for (index, entry) in entries.enumerated() {
            #expect(entry.keys.sorted() == documented.sorted(), "entry \(index)")
        }
        #expect(entries[1]["error"] as? String == "No such file or directory (errno 2).")
        #expect(entries[1]["verdict"] is NSNull)
        let findings = try #require(entries[0]["findings"] as? [[String: Any]])
        try #require(findings.count == 1)
        #expect(findings[0].keys.sorted() == (try documentedKeys("check-json.md", table: 1)).sorted())
        #expect(findings[0]["shape"] as? String == "merge_between_reads")
        // Printed sorted: the first object (from its `{` line to its `}` line) in text order.
        let lines = run.standardOutput.split(separator: "\n")
        let open = try #require(lines.firstIndex { $0 == "{" })
        let close = try #require(lines[open...].firstIndex { $0.hasPrefix("}") })
        #expect(topLevelKeys(lines[open...close].joined(separator: "\n")) == documented.sorted())
    }

    @Test func surveyJSONHasTheDocumentedKeysSorted() throws {
        defer { removeTemporaryDirectory(directory) }
        let json = try run([
            "survey", "--workloads", "rolling", "--readers", "chromium", "--repeat", "1", "--pages", "300",
            "--snapshots", "3", "--dir", directory + "/survey", "--json",
        ])
        for name in ["survey.json", "survey.md"] { unlink(directory + "/survey/" + name) }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory + "/survey")) ?? [] {
            unlink(directory + "/survey/" + name)
        }
        rmdir(directory + "/survey")
        let keys = topLevelKeys(json)
        #expect(keys.contains("cells") && keys.contains("machine"))
        #expect(keys == keys.sorted())
        #expect(keys.sorted() == (try documentedKeys("survey.md")).sorted())
    }
}
