import Foundation
import MapsKernels
import MapsTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The initramfs cache is shared by every `mapsrace kernels` run (other
/// builds, other worktrees): pruning keeps the newest images and every one
/// used within the last hour, so that a concurrent run cannot delete the
/// image it is about to boot (or to boot its next kernel from).
@Suite struct GuestImagePruneTests {
    /// Sets `path`'s modification time `age` seconds in the past.
    func age(_ path: String, seconds age: Int) {
        let omit = (1 << 30) - 2  // UTIME_OMIT: the access time stays
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var stamps = [timespec(tv_sec: 0, tv_nsec: omit), timespec(tv_sec: now.tv_sec - age, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &stamps, 0) == 0)
    }

    @Test func recentlyUsedImagesSurviveAndOldOnesBeyondTheNewestGo() throws {
        let directory = try makeTemporaryDirectory("prune")
        defer { _ = try? FileManager.default.removeItem(atPath: directory) }
        // Ages in hours: three old ones beyond the newest three, one used
        // 10 minutes ago (kept although it is not among the newest three),
        // and a file that is no image.
        let ages = ["a": 2 * 3600, "b": 3 * 3600, "c": 4 * 3600, "d": 5 * 3600, "e": 6 * 3600, "f": 7 * 3600]
        for (name, seconds) in ages {
            let path = "\(directory)/initramfs-\(name).cpio"
            #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
            age(path, seconds: seconds)
        }
        let other = "\(directory)/linux-image-x.vmlinuz"
        #expect(FileManager.default.createFile(atPath: other, contents: Data([1])))
        age(other, seconds: 9 * 3600)
        // "f" is the oldest written, but used just now.
        GuestImage.markUsed("\(directory)/initramfs-f.cpio")
        GuestImage.pruneImages(in: directory, keeping: 3)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(left == ["initramfs-f.cpio", "initramfs-a.cpio", "initramfs-b.cpio", "linux-image-x.vmlinuz"])

        // Used 10 minutes ago: kept beyond the count too.
        for name in ["g", "h", "i"] {
            let path = "\(directory)/initramfs-\(name).cpio"
            #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
        }
        age("\(directory)/initramfs-a.cpio", seconds: 600)
        GuestImage.pruneImages(in: directory, keeping: 3)
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(after == ["initramfs-f.cpio", "initramfs-g.cpio", "initramfs-h.cpio", "initramfs-i.cpio",
                          "initramfs-a.cpio", "linux-image-x.vmlinuz"])
    }
}
