import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// The guest's initial root file system: the running `mapsrace` binary as
/// /bin/mapsrace (the kernel starts it as PID 1: `rdinit=/bin/mapsrace --
/// _guest-init ...`), every shared library `ldd` lists for it (the Swift
/// runtime included) at the same path, and /dev/console. Cached in the
/// kernel cache directory under a key made of the binary's and the
/// libraries' paths, sizes and modification times.
public enum GuestImage {
    public static let guestBinary = "/bin/mapsrace"

    /// The path of the image for `executable`, built unless cached.
    public static func build(executable: String, cacheDirectory: String) throws(KernelsError) -> String {
        let libraries = try sharedLibraries(of: executable, scratch: cacheDirectory)
        var key = Array("mapsrace-initramfs-1".utf8)
        for file in [executable] + libraries {
            var info = stat()
            guard stat(file, &info) == 0 else {
                throw .initramfsFailed("\(file): \(Errno.afterFailedCall.text)")
            }
            key += Array("\(file) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n".utf8)
        }
        let image = "\(cacheDirectory)/initramfs-\(ResultChannel.hex(ResultChannel.fnv1a64(key))).cpio"
        if access(image, R_OK) == 0 {
            markUsed(image)
            return image
        }

        var archive = CpioArchive()
        for directory in ["bin", "dev", "proc", "sys", "tmp"] { archive.addDirectory(directory) }
        archive.addCharacterDevice("dev/console", major: 5, minor: 1)
        archive.addFile(guestBinary, bytes: try contents(executable), executable: true)
        for library in libraries {
            archive.addFile(library, bytes: try contents(library), executable: true)
        }
        let partial = image + ".partial-\(getpid())"
        guard case .success = writeWholeFile(partial, archive.finished()), rename(partial, image) == 0 else {
            let why = Errno.afterFailedCall.text
            unlink(partial)
            throw .notWritable(image, why)
        }
        pruneImages(in: cacheDirectory, keeping: 3)
        return image
    }

    /// An image stays this long after its last use whatever `pruneImages`'
    /// count: another `mapsrace kernels` run (another build, sharing the
    /// cache) may be about to boot it, or boot its next kernel from it.
    public static let keptWhileInUseSeconds = 3600

    /// Marks `image` as used now (its modification time), so that no
    /// concurrent run prunes it before its guests have booted.
    public static func markUsed(_ image: String) {
        _ = utimensat(AT_FDCWD, image, nil, 0)
    }

    /// Every rebuilt binary makes a new image (some 50 MB): only the
    /// `count` most recently written or used stay, and every one used
    /// within `keptWhileInUseSeconds`.
    public static func pruneImages(in directory: String, keeping count: Int) {
        guard let handle = opendir(directory) else { return }
        var images: [(path: String, written: Int)] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.hasPrefix("initramfs-"), name.hasSuffix(".cpio") else { continue }
            var info = stat()
            let path = "\(directory)/\(name)"
            if stat(path, &info) == 0 { images.append((path, info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)) }
        }
        closedir(handle)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let recent = (now.tv_sec - keptWhileInUseSeconds) * 1_000_000_000
        for old in images.sorted(by: { $0.written > $1.written }).dropFirst(count) where old.written < recent {
            unlink(old.path)
        }
    }

    static func contents(_ path: String) throws(KernelsError) -> [UInt8] {
        switch readWholeFile(path) {
        case .success(let bytes): return bytes
        case .failure(let code): throw .initramfsFailed("\(path): \(code.text)")
        }
    }

    /// The absolute paths `ldd` prints for `executable`: `name => /path (...)`
    /// and the dynamic loader's `/path (...)`.
    static func sharedLibraries(of executable: String, scratch: String) throws(KernelsError) -> [String] {
        guard let ldd = findProgram("ldd") else { throw .toolMissing("ldd", why: "to list mapsrace's shared libraries") }
        try makeDirectory(scratch)
        let listing = "\(scratch)/.ldd-\(getpid())"
        defer { unlink(listing) }
        let run = runProgram(ldd, [executable], standardOutput: listing, standardError: listing + ".err")
        defer { unlink(listing + ".err") }
        guard run.succeeded, case .success(let bytes) = readWholeFile(listing) else {
            throw .initramfsFailed("ldd \(executable) failed: \(excerpt(of: listing + ".err"))")
        }
        return parseLdd(String(decoding: bytes, as: UTF8.self))
    }

    /// The library paths of `ldd` output, in order, without duplicates.
    public static func parseLdd(_ text: String) -> [String] {
        var paths: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let path: Substring?
            if let arrow = words.firstIndex(of: "=>") {
                path = arrow + 1 < words.count ? words[arrow + 1] : nil
            } else {
                path = words.first
            }
            if let path, path.hasPrefix("/"), !paths.contains(String(path)) { paths.append(String(path)) }
        }
        return paths
    }
}
