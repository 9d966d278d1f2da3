/// The four permission characters of a maps line: `r`, `w`, `x` and `p`/`s`.
public struct Permissions: Hashable, Sendable, CustomStringConvertible {
    public var read: Bool
    public var write: Bool
    public var execute: Bool
    /// `s` (shared) rather than `p` (private copy-on-write).
    public var shared: Bool

    public init(read: Bool, write: Bool, execute: Bool, shared: Bool) {
        self.read = read
        self.write = write
        self.execute = execute
        self.shared = shared
    }

    /// Permissions for mprotect/mmap `prot` bits on a private mapping.
    public init(prot: Int32, shared: Bool = false) {
        self.init(read: prot & 1 != 0, write: prot & 2 != 0, execute: prot & 4 != 0, shared: shared)
    }

    /// The PROT_* bits (PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4).
    public var prot: Int32 {
        (read ? 1 : 0) | (write ? 2 : 0) | (execute ? 4 : 0)
    }

    /// `rw-p` and so on, as the kernel prints them.
    public var description: String {
        String(decoding: [
            read ? UInt8(ascii: "r") : UInt8(ascii: "-"),
            write ? UInt8(ascii: "w") : UInt8(ascii: "-"),
            execute ? UInt8(ascii: "x") : UInt8(ascii: "-"),
            shared ? UInt8(ascii: "s") : UInt8(ascii: "p"),
        ], as: UTF8.self)
    }
}

/// One line of `/proc/PID/maps`: one mapping (VMA) as the kernel printed it.
public struct MapsLine: Hashable, Sendable, CustomStringConvertible {
    public var start: UInt64
    public var end: UInt64
    public var permissions: Permissions
    public var offset: UInt64
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var inode: UInt64
    /// Empty for anonymous mappings; may contain spaces, `[heap]`,
    /// `[anon:name]`, ` (deleted)` and so on, exactly as printed.
    public var path: String

    public init(
        start: UInt64, end: UInt64, permissions: Permissions, offset: UInt64 = 0,
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, inode: UInt64 = 0, path: String = ""
    ) {
        self.start = start
        self.end = end
        self.permissions = permissions
        self.offset = offset
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.inode = inode
        self.path = path
    }

    /// The line in the kernel's own layout (`show_map_vma`), without the newline:
    /// the fixed fields, a space, and for a named mapping padding to column 72,
    /// a space and the name.
    public var description: String {
        var text = "\(hex(start, width: 8))-\(hex(end, width: 8)) \(permissions) \(hex(offset, width: 8)) "
        text += "\(hex(UInt64(deviceMajor), width: 2)):\(hex(UInt64(deviceMinor), width: 2)) \(inode) "
        if !path.isEmpty {
            let count = text.utf8.count
            if count < 72 { text += String(repeating: " ", count: 72 - count) }
            text += " " + path
        }
        return text
    }

    public var length: UInt64 { end &- start }
}

/// Lowercase hex, zero-padded to `width` digits, as the kernel prints maps.
public func hex(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// `0x…` lowercase hex, the form addresses take in mapsrace's JSON.
public func addressString(_ value: UInt64) -> String {
    "0x" + String(value, radix: 16)
}
