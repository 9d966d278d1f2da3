// errno, EINTR and whole-buffer I/O: the only place outside the command
// layer that reads errno or retries an interrupted call. Everything else
// gets a swift-system `Errno` (a value, not a global) from here.

@_exported import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension Errno {
    /// errno right after a failed system call. Inlined: the recorder's hot
    /// loops read it after every logged read(2) and mutation.
    @inlinable @inline(__always)
    public static var afterFailedCall: Errno { Errno(rawValue: Glibc.errno) }

    /// Sets errno, for a C callback whose contract is "-1 with errno" (the
    /// read function of a fopencookie stream).
    @inlinable @inline(__always)
    public static func setForCaller(_ code: Errno) { Glibc.errno = code.rawValue }

    /// strerror(3) text; swift-system's own description for the common codes
    /// differs from glibc's, and messages and traces print glibc's.
    public var text: String {
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }
}

/// strerror(3) text for a raw errno value (as stored in trace records).
public func errorText(_ code: Int32) -> String { Errno(rawValue: code).text }

/// Runs a call that returns -1 with errno on failure, again while it fails
/// with EINTR. The result, or the errno it failed with.
@inlinable
public func retryingOnInterrupt<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
    while true {
        let result = call()
        if result >= 0 { return .success(result) }
        let code = Errno.afterFailedCall
        if code != .interrupted { return .failure(code) }
    }
}

/// Runs a call that returns -1 with errno on failure once. The result or the
/// errno, EINTR included: a caller that waits for a stop signal must see it.
@inlinable @inline(__always)
public func checkedCall<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
    let result = call()
    return result >= 0 ? .success(result) : .failure(Errno.afterFailedCall)
}

/// open(2) with O_CLOEXEC added, retried on EINTR.
public func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0) -> Result<Int32, Errno> {
    retryingOnInterrupt { open(path, flags | O_CLOEXEC, mode) }
}

/// Reads a whole (small) file with read(2).
public func readWholeFile(_ path: String) -> Result<[UInt8], Errno> {
    let fd: Int32
    switch openFile(path, O_RDONLY) {
    case .success(let opened): fd = opened
    case .failure(let code): return .failure(code)
    }
    defer { close(fd) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = retryingOnInterrupt { chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        switch count {
        case .failure(let code): return .failure(code)
        case .success(0): return .success(contents)
        case .success(let count): contents.append(contentsOf: chunk[0..<count])
        }
    }
}

/// Reads into `buffer` with read(2), retried on EINTR: bytes read, 0 at end of file.
public func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
}

/// Writes all of `bytes` with write(2), retrying short and interrupted writes.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
    var written = 0
    while written < bytes.count {
        switch retryingOnInterrupt({ write(fd, bytes.baseAddress! + written, bytes.count - written) }) {
        case .failure(let code): return .failure(code)
        case .success(0): return .failure(.ioError)
        case .success(let count): written += count
        }
    }
    return .success(())
}

/// Writes all of `bytes` at `offset` with pwrite(2), retrying short and interrupted writes.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> Result<Void, Errno> {
    var written = 0
    while written < bytes.count {
        let count = retryingOnInterrupt {
            pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset + written))
        }
        switch count {
        case .failure(let code): return .failure(code)
        case .success(0): return .failure(.ioError)
        case .success(let count): written += count
        }
    }
    return .success(())
}

/// Writes one line to standard error (best effort: a closed stderr is ignored).
public func writeLineToStandardError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { writeAll(STDERR_FILENO, $0) }
}

/// Creates or truncates `path` and writes all of `bytes` to it.
public func writeWholeFile(_ path: String, _ bytes: [UInt8]) -> Result<Void, Errno> {
    let fd: Int32
    switch openFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644) {
    case .success(let opened): fd = opened
    case .failure(let code): return .failure(code)
    }
    let written = bytes.withUnsafeBytes { writeAll(fd, $0) }
    if case .failure(let code) = checkedCall({ close(fd) }), case .success = written { return .failure(code) }
    return written
}
