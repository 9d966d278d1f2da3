import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

/// How one guest is run under QEMU.
public struct GuestMachineSettings: Sendable, Equatable {
    /// `tcg` (software emulation, the default: this machine kind's /dev/kvm
    /// is no hardware KVM) or `kvm`.
    public var accelerator: String
    public var cpus: Int
    public var memoryMiB: Int
    /// Seconds from QEMU's start until the guest's init must have reported.
    public var bootTimeoutSeconds: Int
    /// Seconds the whole guest (boot, survey, sending back) may run.
    public var guestTimeoutSeconds: Int

    public static let defaultBootTimeoutSeconds = 120
    public static let defaultGuestTimeoutSeconds = 3600

    public init(
        accelerator: String = "tcg", cpus: Int = 2, memoryMiB: Int = 1024,
        bootTimeoutSeconds: Int = defaultBootTimeoutSeconds, guestTimeoutSeconds: Int = defaultGuestTimeoutSeconds
    ) {
        self.accelerator = accelerator
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.bootTimeoutSeconds = bootTimeoutSeconds
        self.guestTimeoutSeconds = guestTimeoutSeconds
    }
}

/// What came back from one guest.
struct GuestRunOutcome {
    var received: ResultChannel.Received
    var elapsedNs: UInt64
    /// Why the guest gave no usable survey; nil when it did.
    var failure: String?
    var interruptedBy: Int32
}

/// The QEMU command line for one guest. Its console (ttyS0) goes to
/// `console.log`, its results port (ttyS1) to `results.txt`, QEMU's own
/// messages to `qemu.log`, all in `directory`.
func qemuArguments(
    kernel: String, initramfs: String, surveyArguments: [String], directory: String, settings: GuestMachineSettings
) -> [String] {
    func chardevPath(_ path: String) -> String { path.split(separator: ",", omittingEmptySubsequences: false).joined(separator: ",,") }
    let commandLine = ["console=ttyS0", "loglevel=4", "panic=-1", "rdinit=\(GuestImage.guestBinary)", "--", "_guest-init"]
        + surveyArguments
    return [
        "-accel", settings.accelerator, "-cpu", settings.accelerator == "kvm" ? "host" : "max",
        "-smp", "\(settings.cpus)", "-m", "\(settings.memoryMiB)",
        "-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
        "-chardev", "file,id=console,path=\(chardevPath(directory + "/console.log"))",
        "-chardev", "file,id=results,path=\(chardevPath(directory + "/results.txt"))",
        "-serial", "chardev:console", "-serial", "chardev:results",
        "-kernel", kernel, "-initrd", initramfs,
        "-append", commandLine.joined(separator: " "),
    ]
}

/// Boots one guest and waits for it: past the boot time limit without the
/// guest's hello, or past the guest time limit, QEMU is killed and the
/// outcome says so.
func runGuest(
    qemu: String, kernel: String, initramfs: String, surveyArguments: [String], directory: String,
    settings: GuestMachineSettings
) -> GuestRunOutcome {
    let resultsPath = directory + "/results.txt"
    let qemuLog = directory + "/qemu.log"
    var booted = false
    let run = runProgram(
        qemu,
        qemuArguments(
            kernel: kernel, initramfs: initramfs, surveyArguments: surveyArguments, directory: directory,
            settings: settings),
        standardOutput: qemuLog, standardError: qemuLog + ".stderr"
    ) { elapsed in
        if !booted { booted = hasHello(resultsPath) }
        if !booted && elapsed >= UInt64(settings.bootTimeoutSeconds) * 1_000_000_000 {
            return "the guest did not boot within \(settings.bootTimeoutSeconds) s (its init never reported); QEMU was killed (console: \(directory)/console.log)"
        }
        if elapsed >= UInt64(settings.guestTimeoutSeconds) * 1_000_000_000 {
            return "the guest ran past its time limit of \(settings.guestTimeoutSeconds) s; QEMU was killed"
        }
        return nil
    }
    let stream: [UInt8]
    if case .success(let bytes) = readWholeFile(resultsPath) { stream = bytes } else { stream = [] }
    let received = ResultChannel.parse(stream)
    var failure: String?
    if let reason = run.stopReason {
        failure = reason
    } else if let status = run.status, !status.exitedCleanly {
        let why = excerpt(of: qemuLog + ".stderr", lines: 2)
        failure = "QEMU failed (\(status)): \(why.isEmpty ? "no message" : why)"
    } else if received.release == nil {
        failure = "the guest stopped without reporting (console: \(consoleSummary(directory + "/console.log")))"
    } else if let error = received.guestError {
        failure = "the guest failed: \(error)"
    } else if let damage = received.damage {
        failure = damage
    } else if !received.files.contains(where: { $0.name == "survey.json" }) {
        let log = received.files.first(where: { $0.name == GuestInit.surveyLog }).map {
            String(decoding: $0.bytes, as: UTF8.self).split(separator: "\n").suffix(2).joined(separator: " | ")
        } ?? ""
        failure = "the guest's survey wrote no survey.json (exit status \(received.surveyExitStatus ?? -1)): \(log)"
    }
    return GuestRunOutcome(received: received, elapsedNs: run.elapsedNs, failure: failure, interruptedBy: run.interruptedBy)
}

/// The console's panic line, else its last line, at most 200 characters.
func consoleSummary(_ path: String) -> String {
    guard case .success(let bytes) = readWholeFile(path) else { return "none" }
    let lines = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" })
    guard let line = lines.first(where: { $0.contains("Kernel panic") }) ?? lines.last else { return "empty" }
    return String(line.prefix(200))
}

/// Whether the results file already holds the guest's hello line.
func hasHello(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return false }
    let text = String(decoding: buffer[0..<count], as: UTF8.self)
    return text.contains(ResultChannel.guestTag + " ") && text.contains("procmap_query=")
}

/// `qemu-system-x86_64 --version`'s major version, nil when it cannot run.
public func qemuMajorVersion(_ qemu: String, scratch: String = "/tmp") -> Int? {
    let output = "\(scratch)/.qemu-version-\(getpid())"
    defer { unlink(output) }
    guard runProgram(qemu, ["--version"], standardOutput: output).succeeded,
        case .success(let bytes) = readWholeFile(output)
    else { return nil }
    let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard let index = words.firstIndex(of: "version"), index + 1 < words.count else { return nil }
    return words[index + 1].split(separator: ".").first.flatMap { Int($0) }
}
