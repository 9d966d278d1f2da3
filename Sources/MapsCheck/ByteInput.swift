import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// One input read front to back with read(2): a file, a pipe or standard
/// input. Skipping seeks when the input can seek and reads past the bytes
/// otherwise, so a pipe can only skip forward.
public final class ByteInput {
    let descriptor: Int32
    private let owned: Bool
    /// Bytes consumed so far (the offset of the next byte).
    public private(set) var position: UInt64 = 0
    /// The size of a regular file; nil for a pipe or terminal.
    public let size: UInt64?

    /// Opens `path`; `-` is standard input.
    public init(path: String) throws(CheckError) {
        if path == "-" {
            descriptor = STDIN_FILENO
            owned = false
        } else {
            switch openFile(path, O_RDONLY) {
            case .success(let opened): descriptor = opened
            case .failure(let code): throw .unreadable(code)
            }
            owned = true
        }
        var status = stat()
        if fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG {
            size = UInt64(status.st_size)
            position = UInt64(max(0, lseek(descriptor, 0, SEEK_CUR)))
        } else {
            size = nil
        }
    }

    /// Reads an open descriptor (a pipe, say), which the caller closes.
    public init(descriptor: Int32) {
        self.descriptor = descriptor
        owned = false
        size = nil
    }

    deinit {
        if owned { close(descriptor) }
    }

    /// Reads up to `buffer.count` bytes; 0 at end of input.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(CheckError) -> Int {
        switch readSome(descriptor, into: buffer) {
        case .success(let returned):
            position += UInt64(returned)
            return returned
        case .failure(let code):
            throw .unreadable(code)
        }
    }

    /// Exactly `count` bytes, or fewer when the input ends first.
    public func read(count: Int) throws(CheckError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let returned = try bytes.withUnsafeMutableBufferPointer { (buffer) throws(CheckError) -> Int in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[filled...]))
            }
            if returned == 0 { break }
            filled += returned
        }
        return Array(bytes[..<filled])
    }

    /// Moves to `offset`. Backwards only when the input can seek; forwards
    /// over a pipe by reading. False when the input ends before `offset`.
    public func skip(to offset: UInt64) throws(CheckError) -> Bool {
        if offset == position { return true }
        if size != nil {
            guard offset <= UInt64(Int64.max) else { throw .unreadable(.invalidArgument) }
            if case .failure(let code) = checkedCall({ lseek(descriptor, off_t(offset), SEEK_SET) }) {
                throw .unreadable(code)
            }
            position = offset
            return size.map { offset <= $0 } ?? true
        }
        guard offset > position else {
            throw .badMinidump("its maps stream lies before its stream directory, which standard input or a pipe cannot go back to; give the file itself")
        }
        var scratch = [UInt8](repeating: 0, count: 65536)
        while position < offset {
            let wanted = Int(min(UInt64(scratch.count), offset - position))
            let returned = try scratch.withUnsafeMutableBufferPointer { (buffer) throws(CheckError) -> Int in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<wanted]))
            }
            if returned == 0 { return false }
        }
        return true
    }
}
