import Testing
@testable import MapsTrace

/// Record 13's trailing `path` field (docs/trace-format.md): 0 the tracer's
/// stops, 1 the fast path's ring, absent in older traces (0); any other
/// value is a malformed record, not a silent "stopped".
@Suite struct TracedSyscallPathTests {
    /// The payload of one traced syscall record, its last byte (the path) replaced when `path` is given.
    func decode(fastPath: Bool, path: UInt8? = nil, dropPath: Bool = false) throws -> TracedRecord {
        let call = TracedSyscall(
            sequence: 3, pid: 10, tid: 11, generation: 1, number: 10, name: "mprotect", arguments: [0x1000, 4096, 1],
            result: 0, errno: 0, tBegin: 1_000, tEnd: 1_500, snapshot: -1, fastPath: fastPath)
        var payload = ByteBuffer(capacity: 256)
        _ = RecordEncoder(originNs: 0).encodeTraced(.syscall(call), into: &payload)
        var bytes = Array(payload.bytes)
        #expect(bytes.last == (fastPath ? 1 : 0))
        if let path { bytes[bytes.count - 1] = path }
        if dropPath { bytes.removeLast() }
        return try bytes.withUnsafeBytes { raw in
            var cursor = PayloadCursor(
                raw.baseAddress!, raw.baseAddress! + raw.count, recordOffset: 0,
                kind: RecordKind.tracedSyscall.rawValue, originNs: 0)
            return try cursor.traced(.tracedSyscall, limits: .standard)
        }
    }

    @Test func pathsZeroOneAndAbsentDecode() throws {
        guard case .syscall(let fast) = try decode(fastPath: true) else { Issue.record("not a syscall"); return }
        #expect(fast.fastPath && fast.name == "mprotect" && fast.tEnd == 1_500)
        guard case .syscall(let stopped) = try decode(fastPath: false) else { Issue.record("not a syscall"); return }
        #expect(!stopped.fastPath)
        guard case .syscall(let old) = try decode(fastPath: true, dropPath: true) else { Issue.record("not a syscall"); return }
        #expect(!old.fastPath)
    }

    @Test(arguments: [UInt8(2), 0x7f])
    func anotherPathIsMalformed(path: UInt8) {
        let error = #expect(throws: TraceError.self) { try decode(fastPath: true, path: path) }
        guard case .malformedRecord(_, let kind, let reason) = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(kind == RecordKind.tracedSyscall.rawValue)
        #expect(reason == "unknown traced syscall path \(path)")
    }
}
