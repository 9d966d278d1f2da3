import Foundation
import MapsSystem
import MapsTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real guests under QEMU (tools/bootstrap.sh installs QEMU 10 and fetches
/// the 6.1 cloud kernel into the cache `mapsrace kernels` uses).
@Suite(.serialized) struct GuestBootTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func removeTree(_ path: String) {
        _ = try? runProgram("/bin/rm", ["-rf", "--", path], in: "/tmp")
    }

    /// One small guest, end to end: the survey comes back from a 6.1 kernel,
    /// its traces are ordinary traces that name that kernel.
    @Test(.timeLimit(.minutes(5))) func aSmallGuestSurveyComesBackFromKernel61() throws {
        let directory = try makeTemporaryDirectory("kernels")
        defer { removeTree(directory) }
        let run = try runMapsrace(
            ["kernels", "--kernel", "6.1", "--workloads", "rolling", "--readers", "chromium,procmap-query",
             "--repeat", "1", "--pages", "3000", "--snapshots", "4", "--dir", "out", "--json",
             "--boot-timeout", "120", "--guest-timeout", "240"],
            in: directory)
        // procmap-query cannot run on 6.1: its cell fails there, which is
        // the finding, not a failure of the kernel's row.
        #expect(run.exitCode == 0, "\(run.standardError)")
        let document = try json(run.standardOutput)
        let kernels = try #require(document["kernels"] as? [[String: Any]])
        try #require(kernels.count == 2, "\(run.standardOutput)")
        let host = kernels[0], guest = kernels[1]
        #expect(host["host"] as? Bool == true)
        #expect(host["kernel_release"] as? String == KernelIdentity.current().release)
        #expect(guest["host"] as? Bool == false)
        let release = try #require(guest["kernel_release"] as? String)
        #expect(release.hasPrefix("6.1.0-") && release.hasSuffix("-cloud-amd64"), "\(release)")
        #expect((guest["package"] as? String)?.hasPrefix("linux-image-6.1.0-") == true)
        #expect(guest["failure"] is NSNull)
        #expect(guest["procmap_query"] as? Bool == false)
        #expect(((guest["timing_scale"] as? Double) ?? 0) > 0)
        let cells = try #require(guest["cells"] as? [[String: Any]])
        #expect(cells.map { $0["reader"] as? String } == ["chromium", "procmap-query"])
        let failures = try #require(cells[1]["failures"] as? [String])
        #expect(failures.first?.contains("PROCMAP_QUERY is not supported") == true, "\(failures)")
        #expect((cells[0]["failures"] as? [String])?.isEmpty == true)

        // The guest's trace, here: info names the guest's kernel, analyze opens it.
        let trace = "out/6.1/survey/rolling-chromium-r0.mrtrace"
        let info = try runMapsrace(["info", "--json", trace], in: directory)
        #expect(info.exitCode == 0, "\(info.standardError)")
        #expect(try json(info.standardOutput)["kernel_release"] as? String == release)
        let analysis = try runMapsrace(["analyze", "--json", trace], in: directory)
        #expect(analysis.exitCode == 0, "\(analysis.standardError)")
        let analysed = try json(analysis.standardOutput)
        #expect(analysed["kernel_release"] as? String == release)
        #expect((analysed["snapshot_count"] as? Int) == 4)
        #expect(access(directory + "/out/kernels.md", R_OK) == 0)

        // The keys docs/kernels.md promises, at each level.
        #expect(Set(document.keys) == Set(try documentedKeys(table: 0)))
        #expect(Set(guest.keys) == Set(try documentedKeys(table: 1)))
        #expect(Set(cells[0].keys) == Set(try documentedKeys(table: 2)))
        let rates = try #require(cells[0]["anomalies_per_100"] as? [String: Any])
        #expect(Set(rates.keys) == ["duplicated", "intra_read", "missing", "torn"])
    }

    /// A kernel QEMU cannot boot, and one that does not report within its
    /// boot time limit: both reported in their rows, neither waited on.
    @Test(.timeLimit(.minutes(2))) func guestsThatDoNotBootAreReportedAndSkipped() throws {
        let directory = try makeTemporaryDirectory("kernels")
        defer { removeTree(directory) }
        let bogus = directory + "/bogus-vmlinuz"
        #expect(writeWholeFile(bogus, Array(repeating: 0x90, count: 8192)).isSuccess)
        let run = try runMapsrace(
            ["kernels", "--no-host", "--kernel", bogus, "--kernel", "6.1", "--boot-timeout", "1",
             "--workloads", "rolling", "--readers", "chromium", "--repeat", "1", "--pages", "100",
             "--snapshots", "1", "--dir", "out", "--json"],
            in: directory)
        #expect(run.exitCode == 51, "\(run.standardError)")
        let kernels = try #require(try json(run.standardOutput)["kernels"] as? [[String: Any]])
        try #require(kernels.count == 2)
        let qemuFailure = try #require(kernels[0]["failure"] as? String)
        #expect(qemuFailure.contains("QEMU failed"), "\(qemuFailure)")
        let bootFailure = try #require(kernels[1]["failure"] as? String)
        // Killed at its 1 s limit (not the default 120 s), and said so.
        #expect(bootFailure.contains("did not boot within 1 s") && bootFailure.contains("QEMU was killed"), "\(bootFailure)")
        #expect(run.standardError.contains("did not boot within 1 s"))
    }
}

/// The backquoted names of the key column of the `table`-th (from 0)
/// `| key |` table of docs/kernels.md.
func documentedKeys(table: Int) throws -> [String] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    let text = try String(contentsOfFile: root + "/docs/kernels.md", encoding: .utf8)
    var keys: [String] = []
    var seen = 0
    var inTable = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("| key |") { seen += 1; inTable = seen == table + 1; continue }
        guard inTable else { continue }
        guard line.hasPrefix("|") else { if !keys.isEmpty { break } else { continue } }
        let cell = line.split(separator: "|", omittingEmptySubsequences: false)[1]
        for (index, part) in cell.split(separator: "`", omittingEmptySubsequences: false).enumerated() where index % 2 == 1 {
            keys.append(String(part))
        }
    }
    return keys
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
