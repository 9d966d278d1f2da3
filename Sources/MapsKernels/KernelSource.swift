import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// One `--kernel` argument: a Debian kernel series (`6.1`, `6.12`: the
/// newest `linux-image-<series>...-cloud-amd64-unsigned` package apt knows),
/// an exact package name (`linux-image-...`), or a kernel image file (a path).
public enum KernelSource: Sendable, Equatable, CustomStringConvertible {
    case series(String)
    case package(String)
    case imageFile(String)

    public init(parsing text: String) throws(KernelsError) {
        if text.contains("/") {
            self = .imageFile(text)
        } else if text.hasPrefix("linux-image-") {
            guard text.utf8.allSatisfy({ Self.isPackageByte($0) }) else { throw .invalidKernel(text) }
            self = .package(text)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
                throw .invalidKernel(text)
            }
            self = .series(text)
        }
    }

    static func isPackageByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x2e || byte == 0x2d || byte == 0x2b
    }

    public var description: String {
        switch self {
        case .series(let series): series
        case .package(let name): name
        case .imageFile(let path): path
        }
    }
}

/// Debian's kernel packages, fetched with `apt-get download` (never
/// installed) into a cache directory, which keeps only each package's
/// vmlinuz: `<cache>/<package>.vmlinuz`.
public struct KernelCache: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    /// `$MAPSRACE_CACHE/kernels`, else `$XDG_CACHE_HOME/mapsrace/kernels`,
    /// else `~/.cache/mapsrace/kernels`.
    public static var defaultDirectory: String {
        if let cache = getenv("MAPSRACE_CACHE").map({ String(cString: $0) }), !cache.isEmpty {
            return cache + "/kernels"
        }
        if let xdg = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), !xdg.isEmpty {
            return xdg + "/mapsrace/kernels"
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
        return home + "/.cache/mapsrace/kernels"
    }

    /// The package a series stands for: the newest cloud kernel of it that
    /// apt knows (`apt-cache search`; needs an `apt-get update` done).
    public func resolve(_ source: KernelSource) throws(KernelsError) -> String? {
        switch source {
        case .imageFile: return nil
        case .package(let name): return name
        case .series(let series):
            guard let aptCache = findProgram("apt-cache") else { throw .toolMissing("apt-cache", why: "to find kernel packages") }
            let escaped = series.split(separator: ".").joined(separator: "\\.")
            let pattern = "^linux-image-\(escaped)[.-].*-cloud-amd64-unsigned$"
            try makeDirectory(directory)
            let listing = directory + "/.apt-cache-search.\(getpid())"
            defer { unlink(listing) }
            let run = runProgram(aptCache, ["search", "--names-only", pattern], standardOutput: listing)
            guard run.succeeded else { throw .fetchFailed(series, "apt-cache search failed: \(excerpt(of: listing))") }
            guard case .success(let bytes) = readWholeFile(listing) else { throw .fetchFailed(series, "apt-cache search gave nothing") }
            let names = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
                line.split(separator: " ").first.map(String.init)
            }.filter { $0.hasPrefix("linux-image-\(series)") }
            guard let newest = names.max(by: { Self.versionOrder($0, $1) }) else {
                throw .noPackage(series)
            }
            return newest
        }
    }

    /// Orders package names by their numeric runs (6.1.0-9 before 6.1.0-57).
    static func versionOrder(_ lhs: String, _ rhs: String) -> Bool {
        func numbers(_ name: String) -> [Int] {
            name.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        }
        return numbers(lhs).lexicographicallyPrecedes(numbers(rhs))
    }

    /// The kernel image for `source`: downloaded and unpacked on first use.
    public func image(for source: KernelSource) throws(KernelsError) -> (path: String, package: String?) {
        if case .imageFile(let path) = source {
            guard access(path, R_OK) == 0 else { throw .fetchFailed(path, "cannot read the kernel image \(path)") }
            return (path, nil)
        }
        guard let package = try resolve(source) else { throw .invalidKernel(source.description) }
        let image = "\(directory)/\(package).vmlinuz"
        if access(image, R_OK) == 0 { return (image, package) }
        try makeDirectory(directory)
        guard let aptGet = findProgram("apt-get") else { throw .toolMissing("apt-get", why: "to download \(package)") }
        guard findProgram("dpkg-deb") != nil else { throw .toolMissing("dpkg-deb", why: "to unpack \(package)") }
        let work = "\(directory)/.download-\(getpid())"
        try makeDirectory(work)
        defer { removeTree(work) }
        let log = work + "/apt.log"
        // apt-get download writes into the current directory.
        let download = runProgram(
            "/bin/sh", ["-c", "cd \"$1\" && exec \"$2\" download \"$3\"", "sh", work, aptGet, package],
            standardOutput: log, standardError: log + ".err")
        guard download.succeeded else {
            let why = excerpt(of: log + ".err", lines: 2)
            if why.contains("Unable to locate") || why.contains("has no installation candidate") || why.contains("Can't select") {
                throw .noPackage(package)
            }
            throw .fetchFailed(package, "apt-get download failed: \(why)")
        }
        let unpack = runProgram(
            "/bin/sh",
            ["-c", "cd \"$1\" && for deb in ./*.deb; do dpkg-deb --fsys-tarfile \"$deb\" | tar -xO --wildcards './boot/vmlinuz-*' > vmlinuz || exit 1; done; test -s vmlinuz", "sh", work],
            standardOutput: log, standardError: log + ".err")
        guard unpack.succeeded else {
            throw .fetchFailed(package, "no boot/vmlinuz-* in the package: \(excerpt(of: log + ".err", lines: 2))")
        }
        guard rename(work + "/vmlinuz", image) == 0 else {
            throw .fetchFailed(package, "cannot keep the image in \(directory): \(Errno.afterFailedCall.text)")
        }
        return (image, package)
    }
}

func makeDirectory(_ path: String) throws(KernelsError) {
    var partial = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        partial += "/" + component
        if mkdir(partial, 0o755) != 0, errno != EEXIST {
            throw .notWritable(path, Errno.afterFailedCall.text)
        }
    }
}

/// Removes a directory of plain files (the download scratch directory).
func removeTree(_ path: String) {
    _ = runProgram("/bin/rm", ["-rf", "--", path])
}
