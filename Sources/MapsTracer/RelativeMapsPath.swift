#if canImport(Glibc)
import Glibc
#endif

/// Maps paths that are not plain absolute `/proc/...` paths: a relative path
/// opened through a directory descriptor (`openat(open("/proc/1234"),
/// "maps")`, `/proc/self`, `/proc/PID/task/TID`, `/proc`) or the working
/// directory (`open("maps")` after `chdir("/proc/1234")`), and paths with
/// `.`, `..` or doubled slashes. The directory is what the kernel will start
/// from: the link `/proc/TID/fd/N` (or `/proc/TID/cwd`) read at the entry
/// stop, while the calling thread cannot change it. No descriptor of a
/// directory is followed, so dup, fork and exec need nothing.
///
/// Layout of the loop's scratch memory while resolving: the path as the
/// tracee gave it at [0, 4096), the joined path at `joinedOffset`; the
/// result goes back to [0, 4096). The link's name is a `ShortPath`.
extension TracerLoop {
    static let scratchBytes = 16384
    private static let joinedOffset = 12288
    private static let pathRoom = 4096

    /// The path of `length` bytes at the start of `scratch`, given to an open
    /// with directory descriptor `directory` (AT_FDCWD for `open`) by thread
    /// `tid`, rewritten in place as an absolute path without `.`/`..`
    /// components when it may name a maps or smaps file: its new length, or
    /// `length` when nothing needed rewriting, or 0 when it cannot name one
    /// (or the directory cannot be read).
    func absoluteMapsPath(length: Int, directory: Int32, tid: Int32) -> Int {
        let path = scratch.assumingMemoryBound(to: UInt8.self)
        // Only a path whose last component ends in "maps" can name maps or smaps.
        guard length >= 4, path[length - 4] == 0x6d, path[length - 3] == 0x61, path[length - 2] == 0x70,
            path[length - 1] == 0x73
        else { return 0 }
        let joined = (scratch + Self.joinedOffset).assumingMemoryBound(to: UInt8.self)
        var count = 0
        if path[0] == 0x2f {  // "/": absolute
            guard Self.needsNormalizing(path, length) else { return length }
            guard length < Self.pathRoom else { return 0 }
            joined.update(from: path, count: length)
            count = length
        } else {
            // The directory: readlink of /proc/TID/fd/N or /proc/TID/cwd.
            var name = ShortPath.proc(tid)
            if directory == AT_FDCWD {
                name.append("/cwd")
            } else {
                guard directory >= 0 else { return 0 }
                name.append("/fd/")
                name.appendDecimal(UInt64(directory))
            }
            // A relative path of nearly PATH_MAX leaves no room for the
            // directory (and a negative size would reach readlink as a huge one).
            let room = Self.pathRoom - length - 2
            guard room > 1 else { return 0 }
            let linked = name.withCString {
                readlink($0, (scratch + Self.joinedOffset).assumingMemoryBound(to: CChar.self), room)
            }
            // A directory's link is its absolute path (anything else: a socket, a pipe...).
            guard linked > 0, linked < room, joined[0] == 0x2f else { return 0 }
            count = linked
            joined[count] = 0x2f
            count += 1
            (joined + count).update(from: path, count: length)
            count += length
        }
        return Self.normalize(joined, count, into: path)
    }

    private static func needsNormalizing(_ path: UnsafeMutablePointer<UInt8>, _ length: Int) -> Bool {
        for i in 1..<length where path[i - 1] == 0x2f && (path[i] == 0x2f || path[i] == 0x2e) { return true }
        return false
    }


    /// Lexical normalization of the absolute path `source` (count bytes)
    /// into `destination`: empty and `.` components dropped, `..` removes
    /// the component before it. That equals what the kernel resolves only
    /// when the removed component is no symlink to elsewhere: it must be
    /// `proc`, `task`, `self` (a link to a sibling, `PID`) or a number;
    /// anything else (`thread-self`, `cwd`, `root`, `fd/N`...) gives 0.
    static func normalize(_ source: UnsafePointer<UInt8>, _ count: Int, into destination: UnsafeMutablePointer<UInt8>) -> Int {
        var out = 0
        var i = 0
        while i < count {
            while i < count && source[i] == 0x2f { i += 1 }
            let start = i
            while i < count && source[i] != 0x2f { i += 1 }
            let length = i - start
            if length == 0 || (length == 1 && source[start] == 0x2e) { continue }
            if length == 2 && source[start] == 0x2e && source[start + 1] == 0x2e {
                // Remove the last component written, if it is one lexical removal may remove.
                var last = out
                while last > 0 && destination[last - 1] != 0x2f { last -= 1 }
                guard last > 0 else { continue }  // ".." of "/" is "/"
                let component = UnsafeBufferPointer(start: destination + last, count: out - last)
                guard removable(component) else { return 0 }
                out = last - 1
                continue
            }
            guard out + 1 + length < pathRoom else { return 0 }
            destination[out] = 0x2f
            out += 1
            (destination + out).update(from: source + start, count: length)
            out += length
        }
        return out
    }

    private static func removable(_ c: UnsafeBufferPointer<UInt8>) -> Bool {
        if !c.isEmpty && c.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return true }
        guard c.count == 4 else { return false }
        return (c[0] == 0x70 && c[1] == 0x72 && c[2] == 0x6f && c[3] == 0x63)  // proc
            || (c[0] == 0x74 && c[1] == 0x61 && c[2] == 0x73 && c[3] == 0x6b)  // task
            || (c[0] == 0x73 && c[1] == 0x65 && c[2] == 0x6c && c[3] == 0x66)  // self
    }
}
