import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

/// Where `record` writes its trace, decided and opened before anything is
/// mapped or recorded, so that an unusable `-o` fails first:
///
/// - a regular file, or a name that does not exist yet: the trace is written
///   to `<target>.partial-<pid>` beside it and renamed over it once finished,
///   so a failed recording leaves what was there untouched. A symlink is
///   followed: the file it points to is replaced and the symlink stays; a
///   symlink to nothing is refused.
/// - anything else that can be written (a FIFO, a character device such as
///   `/dev/null`, a pipe or terminal as `/dev/stdout`), or a regular file that
///   is this process's standard output (`-o /dev/stdout > file`): the trace is
///   streamed into it as it is written; nothing is created or renamed. A FIFO
///   without a reader is refused (opening it would block).
/// - a directory is refused.
///
/// Two recordings to one path: each holds an exclusive `flock` on its
/// partial file while it runs. After creating its own, a recording looks at
/// every other `<target>.partial-*`: one still locked belongs to a recording
/// that runs, and this one refuses (its error names the other file); one not
/// locked is left over from a recording that died, and is removed (and
/// reported in `removedStalePartials`). Two recordings started at the same
/// instant may both refuse; they never both succeed.
public final class TraceOutput {
    public enum Mode: Equatable {
        /// Written to `partialPath`, renamed over `targetPath` by `publish()`.
        case replace(partialPath: String, targetPath: String)
        /// Written straight into the file as given.
        case stream
    }

    /// The path as given.
    public let path: String
    public let mode: Mode
    /// Open for writing; owned (closed on deinit).
    public let descriptor: Int32
    /// The output is this process's standard output: the summary must not go there.
    public let isStandardOutput: Bool
    /// Partial files of recordings that died, removed.
    public let removedStalePartials: [String]
    private var published = false

    private init(path: String, mode: Mode, descriptor: Int32, isStandardOutput: Bool, removedStalePartials: [String]) {
        self.path = path
        self.mode = mode
        self.descriptor = descriptor
        self.isStandardOutput = isStandardOutput
        self.removedStalePartials = removedStalePartials
    }

    public static func open(_ path: String) throws(RecordingError) -> TraceOutput {
        func refuse(_ reason: String) -> RecordingError { .outputNotWritable(path: path, reason: reason) }
        guard !path.isEmpty else { throw refuse("the output path is empty") }
        var status = stat()
        if stat(path, &status) == 0 {
            let type = status.st_mode & S_IFMT
            if type == S_IFDIR { throw refuse("it is a directory") }
            let isStandardOutput = sameFile(status, asDescriptor: STDOUT_FILENO)
            if type != S_IFREG || isStandardOutput {
                return TraceOutput(
                    path: path, mode: .stream, descriptor: try openForStreaming(path, refuse),
                    isStandardOutput: isStandardOutput, removedStalePartials: [])
            }
            // A regular file, maybe behind symlinks: replace the file itself.
            guard let resolved = realpath(path, nil) else { throw refuse("cannot resolve it: \(Errno.afterFailedCall.text)") }
            defer { free(resolved) }
            return try openReplacing(path: path, target: String(cString: resolved), refuse)
        }
        let statError = Errno.afterFailedCall
        var linkStatus = stat()
        if statError == .noSuchFileOrDirectory, lstat(path, &linkStatus) == 0, linkStatus.st_mode & S_IFMT == S_IFLNK {
            throw refuse("it is a symlink to a file that does not exist")
        }
        guard statError == .noSuchFileOrDirectory else { throw refuse(statError.text) }
        return try openReplacing(path: path, target: path, refuse)
    }

    /// Whether `status` is the file open as `descriptor`.
    private static func sameFile(_ status: stat, asDescriptor descriptor: Int32) -> Bool {
        var other = stat()
        return fstat(descriptor, &other) == 0 && other.st_dev == status.st_dev && other.st_ino == status.st_ino
    }

    private static func openForStreaming(
        _ path: String, _ refuse: (String) -> RecordingError
    ) throws(RecordingError) -> Int32 {
        // Non-blocking, so that a FIFO nobody reads fails now instead of
        // blocking; blocking writes afterwards.
        switch openFile(path, O_WRONLY | O_NONBLOCK) {
        case .success(let descriptor):
            let flags = fcntl(descriptor, F_GETFL)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
            return descriptor
        case .failure(let code) where code.rawValue == ENXIO:
            throw refuse("no process has it open for reading (a FIFO is written only while it is read)")
        case .failure(let code):
            throw refuse(code.text)
        }
    }

    private static func openReplacing(
        path: String, target: String, _ refuse: (String) -> RecordingError
    ) throws(RecordingError) -> TraceOutput {
        let partialPrefix = target + ".partial-"
        let partialPath = partialPrefix + "\(currentProcessID)"
        let descriptor: Int32
        switch openFile(partialPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644) {
        case .success(let opened): descriptor = opened
        case .failure(let code): throw refuse(TraceError.io(path: partialPath, errno: code.rawValue).description)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = Errno.afterFailedCall.text
            close(descriptor)
            unlink(partialPath)
            throw refuse("cannot lock \(partialPath): \(reason)")
        }
        var removed: [String] = []
        for other in partialFiles(withPrefix: partialPrefix) where other != partialPath {
            switch isLocked(other) {
            case .some(true):
                close(descriptor)
                unlink(partialPath)
                throw refuse("another mapsrace record is writing it right now (\(other) is locked by a running recording)")
            case .some(false):
                if unlink(other) == 0 { removed.append(other) }
            case .none:
                continue  // gone meanwhile, or not ours to judge
            }
        }
        return TraceOutput(
            path: path, mode: .replace(partialPath: partialPath, targetPath: target), descriptor: descriptor,
            isStandardOutput: false, removedStalePartials: removed)
    }

    /// The files named `<prefix><digits>` in the prefix's directory.
    private static func partialFiles(withPrefix prefix: String) -> [String] {
        let slash = prefix.lastIndex(of: "/")
        let directory = slash.map { $0 == prefix.startIndex ? "/" : String(prefix[..<$0]) } ?? "."
        let namePrefix = slash.map { String(prefix[prefix.index(after: $0)...]) } ?? prefix
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var found: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(namePrefix) else { continue }
            let suffix = name.dropFirst(namePrefix.count)
            guard !suffix.isEmpty, suffix.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                continue
            }
            found.append(directory == "/" ? "/" + name : (slash == nil ? name : directory + "/" + name))
        }
        return found
    }

    /// Whether a recording holds the lock on `path` (nil if it cannot be opened).
    private static func isLocked(_ path: String) -> Bool? {
        guard case .success(let descriptor) = openFile(path, O_RDONLY) else { return nil }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return false }
        return errno == EWOULDBLOCK
    }

    /// Puts the finished trace in place (a rename for `.replace`).
    public func publish() throws(RecordingError) {
        guard !published else { return }
        if case .replace(let partialPath, let targetPath) = mode {
            guard rename(partialPath, targetPath) == 0 else {
                throw .outputNotWritable(
                    path: path, reason: "cannot rename \(partialPath) over \(targetPath): \(Errno.afterFailedCall.text)")
            }
        }
        published = true
    }

    deinit {
        if !published, case .replace(let partialPath, _) = mode { unlink(partialPath) }
        close(descriptor)
    }
}
