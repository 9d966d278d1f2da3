import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct SummaryJSON {
    func summary(trace: String?) -> RecordingSummary {
        RecordingSummary(
            trace: trace, traceBytes: trace == nil ? nil : 1234, kernelRelease: "6.18 \"x\"", workload: "rolling",
            pages: 2000, pageSize: 4096, seed: UInt64.max, reader: "read:1024", logMutations: trace != nil,
            mutations: 4999, snapshots: 3, reads: 120, bytesRead: 300_000, mutatorLoopNs: 12_345_678,
            interrupted: false, signal: 0)
    }

    @Test func everyDocumentedKeyIsPresent() {
        let text = summary(trace: "a.mrtrace").jsonText
        for key in [
            "trace", "trace_bytes", "kernel_release", "workload", "pages", "page_size", "seed", "reader",
            "log_mutations", "mutations", "snapshots", "reads", "bytes_read", "mutator_loop_ns", "interrupted",
            "signal",
        ] {
            #expect(text.contains("\"\(key)\": "), "missing \(key)")
        }
        #expect(text.contains("\"seed\": 18446744073709551615"))
        #expect(text.contains("\"kernel_release\": \"6.18 \\\"x\\\"\""))
        #expect(text.contains("\"mutator_loop_ns\": 12345678"))
    }

    @Test func noLogHasNullTrace() {
        let text = summary(trace: nil).jsonText
        #expect(text.contains("\"trace\": null"))
        #expect(text.contains("\"trace_bytes\": null"))
        #expect(text.contains("\"log_mutations\": false"))
    }
}
