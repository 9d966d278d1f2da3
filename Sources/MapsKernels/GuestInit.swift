import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// PID 1 of a guest (`mapsrace _guest-init SURVEY-OPTIONS...`): mounts
/// /proc, /sys and /dev, says hello on the results port (/dev/ttyS1), runs
/// `mapsrace survey SURVEY-OPTIONS --dir /results` as a child, sends back
/// every file of /results and the survey's standard error (`survey.log`)
/// in ResultChannel frames, and powers the machine off. It never returns:
/// PID 1 exiting would panic the kernel.
public enum GuestInit {
    public static let resultsPort = "/dev/ttyS1"
    public static let resultsDirectory = "/results"
    public static let surveyLog = "survey.log"

    /// Mounts /proc, where the Swift runtime finds the command line; once.
    public static func mountProc() {
        if access("/proc/self/cmdline", R_OK) != 0 { _ = mount("proc", "/proc", "proc", 0, nil) }
    }

    /// argv[1...] from /proc/self/cmdline (NUL-separated).
    public static func commandLineArguments() -> [String] {
        guard case .success(let bytes) = readWholeFile("/proc/self/cmdline") else { return [] }
        let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        // The text ends with a NUL: its empty last piece is no argument.
        return Array(arguments.dropFirst().dropLast(arguments.last == "" ? 1 : 0))
    }

    public static func run(surveyArguments: [String]) -> Never {
        mountProc()
        for (source, target, type) in [ ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs")] {
            if mount(source, target, type, 0, nil) != 0 {
                writeLineToStandardError("mapsrace guest: cannot mount \(target): \(Errno.afterFailedCall.text)")
            }
        }
        let port = open(resultsPort, O_WRONLY | O_NOCTTY)
        guard port >= 0 else {
            writeLineToStandardError("mapsrace guest: cannot open \(resultsPort): \(Errno.afterFailedCall.text)")
            powerOff()
        }
        var settings = termios()
        if tcgetattr(port, &settings) == 0 {
            cfmakeraw(&settings)
            _ = tcsetattr(port, TCSANOW, &settings)
        }
        let kernel = KernelIdentity.current()
        send(port, ResultChannel.helloLine(release: kernel.release, procmapQuery: procmapQueryAvailable()))

        let log = "/tmp/\(surveyLog)"
        let survey = PreparedSpawn(
            executable: GuestImage.guestBinary,
            arguments: ["survey"] + surveyArguments + ["--json", "--dir", resultsDirectory],
            fileActions: [
                .open(fd: 0, path: "/dev/null", flags: O_RDONLY, mode: 0),
                .open(fd: 1, path: "/dev/null", flags: O_WRONLY, mode: 0),
                .open(fd: 2, path: log, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            ],
            stopSignals: .defaultAndUnblocked)
        let pid: pid_t
        switch survey.spawn() {
        case .success(let child): pid = child
        case .failure(let code):
            send(port, ResultChannel.errorLine("cannot start the survey: \(code.text)"))
            finish(port)
        }
        // PID 1 inherits every orphan: reap them all until the survey ends.
        var surveyStatus: Int32 = -1
        while true {
            var status: Int32 = 0
            let ended = waitpid(-1, &status, 0)
            if ended == pid { surveyStatus = WaitStatus(rawValue: status).shellStatus; break }
            if ended < 0 && errno != EINTR {
                send(port, ResultChannel.errorLine("lost the survey: \(Errno.afterFailedCall.text)"))
                finish(port)
            }
        }

        var files: [(name: String, path: String)] = fileNames(in: resultsDirectory).map { ($0, "\(resultsDirectory)/\($0)") }
        files.append((surveyLog, log))
        var sent = 0
        for file in files where ResultChannel.isSafeName(file.name) {
            guard case .success(let bytes) = readWholeFile(file.path) else { continue }
            let frame = ResultChannel.fileFrame(name: file.name, bytes: bytes)
            _ = frame.withUnsafeBytes { writeAll(port, $0) }
            sent += 1
        }
        send(port, ResultChannel.doneLine(surveyExitStatus: surveyStatus, files: sent))
        finish(port)
    }

    static func send(_ port: Int32, _ line: String) {
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { writeAll(port, $0) }
    }

    static func finish(_ port: Int32) -> Never {
        _ = tcdrain(port)
        powerOff()
    }

    static func powerOff() -> Never {
        sync()
        // reboot(RB_POWER_OFF): QEMU exits when the guest powers off. The
        // Glibc module leaves <sys/reboot.h> out; libc's symbol is looked up.
        typealias Reboot = @convention(c) (Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "reboot") {
            _ = unsafeBitCast(symbol, to: Reboot.self)(Int32(bitPattern: 0x4321_fedc))
        }
        while true { pause() }
    }

    /// The plain file names in `directory`, sorted.
    static func fileNames(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if entry.pointee.d_type == UInt8(DT_REG) { names.append(name) }
        }
        return names.sorted()
    }
}

/// Whether this kernel answers PROCMAP_QUERY (Linux 6.11+) on /proc/self/maps.
public func procmapQueryAvailable() -> Bool {
    let fd = open("/proc/self/maps", O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var query = ProcmapQuery()
    query.size = UInt64(MemoryLayout<ProcmapQuery>.size)
    query.query_flags = ProcmapQueryFlags.coveringOrNextMapping
    query.query_addr = 0
    return withUnsafeMutablePointer(to: &query) { procmapQuery(fd, $0) } == nil
}
