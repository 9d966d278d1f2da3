#if canImport(Glibc)
import Glibc
#endif

/// `uname -r`, `uname -v`, `uname -m` of this machine ("unknown" each if
/// uname(2) fails).
public struct KernelIdentity: Sendable, Equatable {
    public var release: String
    public var version: String
    public var machine: String

    public init(release: String, version: String, machine: String) {
        self.release = release
        self.version = version
        self.machine = machine
    }

    public static func current() -> KernelIdentity {
        var names = utsname()
        guard uname(&names) == 0 else {
            return KernelIdentity(release: "unknown", version: "unknown", machine: "unknown")
        }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return KernelIdentity(release: text(names.release), version: text(names.version), machine: text(names.machine))
    }
}

/// The page size, physical memory and map-count limit of this machine.
public enum MachineLimits {
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Physical memory in bytes (0 if sysconf cannot tell).
    public static var physicalMemoryBytes: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        return pages > 0 ? pages * pageSize : 0
    }

    /// vm.max_map_count: the kernel's limit on map entries per process.
    public static func maxMapCount() -> Int? {
        guard case .success(let bytes) = readWholeFile("/proc/sys/vm/max_map_count") else { return nil }
        var text = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return Int(text)
    }
}
