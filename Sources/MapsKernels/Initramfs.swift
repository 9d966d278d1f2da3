/// A cpio archive in the "newc" format, the one the kernel unpacks as its
/// initial root file system (uncompressed: a gzip pass under emulation
/// costs more boot time than the larger image).
public struct CpioArchive {
    public private(set) var bytes: [UInt8] = []
    private var nextInode: UInt32 = 1
    private var directories: Set<String> = []

    public init() {}

    /// A directory and its parents (absolute path without the leading slash).
    public mutating func addDirectory(_ path: String) {
        var partial = ""
        for component in path.split(separator: "/") {
            partial += partial.isEmpty ? String(component) : "/" + component
            if directories.insert(partial).inserted {
                append(name: partial, mode: 0o040755, data: [], rdev: (0, 0))
            }
        }
    }

    /// A regular file, its parents created.
    public mutating func addFile(_ path: String, bytes data: [UInt8], executable: Bool) {
        let trimmed = path.split(separator: "/").joined(separator: "/")
        if let slash = trimmed.lastIndex(of: "/") { addDirectory(String(trimmed[..<slash])) }
        append(name: trimmed, mode: executable ? 0o100755 : 0o100644, data: data, rdev: (0, 0))
    }

    /// A character device node.
    public mutating func addCharacterDevice(_ path: String, major: UInt32, minor: UInt32) {
        let trimmed = path.split(separator: "/").joined(separator: "/")
        if let slash = trimmed.lastIndex(of: "/") { addDirectory(String(trimmed[..<slash])) }
        append(name: trimmed, mode: 0o020600, data: [], rdev: (major, minor))
    }

    /// The archive with its trailer.
    public func finished() -> [UInt8] {
        var copy = self
        copy.append(name: "TRAILER!!!", mode: 0, data: [], rdev: (0, 0), inode: 0)
        return copy.bytes
    }

    private mutating func append(name: String, mode: UInt32, data: [UInt8], rdev: (UInt32, UInt32), inode: UInt32? = nil) {
        let nameBytes = Array(name.utf8) + [0]
        let fields: [UInt32] = [
            inode ?? nextInode, mode, 0, 0, mode & 0o040000 != 0 ? 2 : 1, 0, UInt32(data.count),
            0, 0, rdev.0, rdev.1, UInt32(nameBytes.count), 0,
        ]
        if inode == nil { nextInode += 1 }
        bytes.append(contentsOf: Array("070701".utf8))
        for field in fields {
            let digits = String(field, radix: 16, uppercase: true)
            bytes.append(contentsOf: Array((String(repeating: "0", count: 8 - digits.count) + digits).utf8))
        }
        bytes.append(contentsOf: nameBytes)
        pad()
        bytes.append(contentsOf: data)
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}
