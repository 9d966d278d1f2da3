// Files and pipes the MapsCheck tests feed to `checkMaps`.

import MapsCheck
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh file under /tmp holding `bytes`; the caller unlinks it.
func temporaryFile(_ bytes: [UInt8]) throws -> String {
    var template = Array("/tmp/mapsrace-check-test-XXXXXX".utf8CString)
    let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    try #require(descriptor >= 0, "mkstemp failed")
    defer { close(descriptor) }
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        try #require(count > 0, "write failed")
        written += count
    }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Checks `bytes` written to a file.
func check(
    bytes: [UInt8], format: CheckFormat = .linux, limits: CheckLimits = .standard
) throws -> MapsCheckResult {
    let path = try temporaryFile(bytes)
    defer { unlink(path) }
    return try checkMaps(ByteInput(path: path), format: format, limits: limits)
}

func check(_ text: String, format: CheckFormat = .linux, limits: CheckLimits = .standard) throws -> MapsCheckResult {
    try check(bytes: Array(text.utf8), format: format, limits: limits)
}

/// The error `checkMaps` throws on `bytes` read through a stream socket
/// (a pipe-like input that cannot seek), written by a thread of ours; nil
/// if it succeeded.
func pipeError(_ bytes: [UInt8], format: CheckFormat = .linux, limits: CheckLimits = .standard) throws -> CheckError? {
    try outcomeThroughPipe(bytes, format: format, limits: limits).error
}

func outcomeThroughPipe(
    _ bytes: [UInt8], format: CheckFormat = .linux, limits: CheckLimits = .standard
) throws -> (result: MapsCheckResult?, error: CheckError?) {
    // A socket pair, not a pipe: the writer sends with MSG_NOSIGNAL, so the
    // reader stopping early is EPIPE for it, not SIGPIPE for the test process.
    var ends: [Int32] = [0, 0]
    try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
    let writer = Thread(bytes: bytes, descriptor: ends[1])
    defer { close(ends[0]); writer.join() }
    do throws(CheckError) {
        return (try checkMaps(ByteInput(descriptor: ends[0]), format: format, limits: limits), nil)
    } catch {
        return (nil, error)
    }
}

/// Writes bytes into a socket until done or the reader closes it.
private final class Thread: @unchecked Sendable {
    private var handle = pthread_t()

    init(bytes: [UInt8], descriptor: Int32) {
        let box = Unmanaged.passRetained(Job(bytes: bytes, descriptor: descriptor)).toOpaque()
        pthread_create(&handle, nil, { argument in
            let job = Unmanaged<Job>.fromOpaque(argument!).takeRetainedValue()
            var written = 0
            while written < job.bytes.count {
                let count = job.bytes[written...].withUnsafeBytes {
                    send(job.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if count <= 0 { break }
                written += count
            }
            close(job.descriptor)
            return nil
        }, box)
    }

    func join() { pthread_join(handle, nil) }

    private final class Job {
        let bytes: [UInt8]
        let descriptor: Int32
        init(bytes: [UInt8], descriptor: Int32) {
            self.bytes = bytes
            self.descriptor = descriptor
        }
    }
}

/// The line numbers of the findings of `kind`.
func lines(of kind: CheckFindingKind, in result: MapsCheckResult) -> [Int] {
    result.findings.filter { $0.kind == kind }.map(\.line)
}

/// An anonymous maps line as the kernel prints it.
func anonymousLine(_ start: UInt64, _ end: UInt64, _ permissions: String) -> String {
    "\(hex8(start))-\(hex8(end)) \(permissions) 00000000 00:00 0 \n"
}

func hex8(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
