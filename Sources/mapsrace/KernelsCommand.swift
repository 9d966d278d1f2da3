import ArgumentParser
import MapsKernels
import MapsRecorder
import MapsSurvey
import MapsSystem

#if canImport(Glibc)
import Glibc
#endif

struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Run the same survey on this machine and on other kernels booted under QEMU, and put them side by side.",
        discussion: """
            Every --kernel (default: 6.1 and 6.12) is a Debian kernel series (the newest \
            linux-image-SERIES...-cloud-amd64-unsigned package apt knows), a package name, or a \
            kernel image file. A package is fetched with `apt-get download` (never installed) into \
            the cache directory, which keeps its vmlinuz. The guest boots from an initramfs holding \
            this mapsrace binary and its shared libraries; its init runs `mapsrace survey` with the \
            survey options given here and sends the traces and survey.json back on a second serial \
            port, then powers off. The same survey runs on this machine first (--no-host skips it).

            The table: per kernel, whether PROCMAP_QUERY works, how long the step took, the \
            mutator's loop time per mutation and its scale against this machine's (emulation \
            slows the mutator and the reader alike, which changes how often the race is hit); then \
            kernel × workload × reader with the survey's figures. A kernel that cannot be fetched, \
            does not boot within --boot-timeout, or sends back no survey is reported in its row and \
            the others go on; the exit status is then 51.

            Everything goes into one directory (--dir): host/ and one directory per kernel \
            (console.log, qemu.log, results.txt, survey/ with the traces: open them with analyze, \
            diff, report, info), kernels.json and kernels.md. docs/kernels.md has the details.
            """
    )

    @Option(name: .customLong("kernel"), help: ArgumentHelp(
        "A kernel series (6.1), a package (linux-image-...) or an image file; repeatable (default: 6.1 and 6.12).",
        valueName: "kernel"))
    var kernels: [String] = []

    @Option(help: ArgumentHelp("Survey: workloads, comma-separated (default: all).", valueName: "a,b,..."))
    var workloads: String?

    @Option(help: ArgumentHelp("Survey: readers, comma-separated (default: every named one).", valueName: "x,y,..."))
    var readers: String?

    @Option(name: .customLong("repeat"), help: "Survey: recordings per workload × reader.")
    var repetitions: Int?

    @Option(help: "Survey: pages in each recording's arena.")
    var pages: Int?

    @Option(help: "Survey: snapshots per recording.")
    var snapshots: Int?

    @Option(help: "Survey: seed of the first recording of every cell.")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Survey: seconds one recording may run (in the guest too).", valueName: "seconds"))
    var recordingTimeout: Int?

    @Option(help: "Directory for everything (default: kernels-<date>-<time> here; must be new or empty).")
    var dir: String?

    @Option(help: ArgumentHelp("Where kernels and initramfs images are kept.", valueName: "dir"))
    var cache: String?

    @Option(help: ArgumentHelp(
        "Seconds from QEMU's start until the guest's init must report; past it the guest is killed.", valueName: "seconds"))
    var bootTimeout: Int = GuestMachineSettings.defaultBootTimeoutSeconds

    @Option(help: ArgumentHelp("Seconds a whole guest (boot, survey, transfer) may run.", valueName: "seconds"))
    var guestTimeout: Int = GuestMachineSettings.defaultGuestTimeoutSeconds

    @Option(help: ArgumentHelp("QEMU accelerator: tcg (software emulation) or kvm.", valueName: "tcg|kvm"))
    var accel: String = "tcg"

    @Option(help: "Guest CPUs.")
    var cpus: Int = 2

    @Option(help: ArgumentHelp("Guest memory.", valueName: "MiB"))
    var memory: Int = 1024

    @Option(help: ArgumentHelp("The QEMU binary.", valueName: "path"))
    var qemu: String = "qemu-system-x86_64"

    @Flag(help: "Do not run the survey on this machine (no host row, no timing scale).")
    var noHost = false

    @Flag(help: "Print the table as JSON (keys: docs/kernels.md).")
    var json = false

    var surveyArguments: [String] {
        var arguments: [String] = []
        if let workloads { arguments += ["--workloads", workloads] }
        if let readers { arguments += ["--readers", readers] }
        if let repetitions { arguments += ["--repeat", "\(repetitions)"] }
        if let pages { arguments += ["--pages", "\(pages)"] }
        if let snapshots { arguments += ["--snapshots", "\(snapshots)"] }
        if let seed { arguments += ["--seed", "\(seed)"] }
        if let recordingTimeout { arguments += ["--recording-timeout", "\(recordingTimeout)"] }
        return arguments
    }

    func validate() throws {
        // The survey's own checks, on the options it will get.
        do {
            let survey = try SurveyCommand.parse(surveyArguments)
            if survey.real { throw ValidationError("the guests have no real readers") }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError(SurveyCommand.message(for: error))
        }
        if let readers, readers.split(separator: ",").contains(where: { $0.hasPrefix(RealReaders.prefix) }) {
            throw ValidationError("real readers (real-...) are not in the guests; name built-in readers")
        }
        for kernel in kernels {
            do { _ = try KernelSource(parsing: kernel) } catch { throw ValidationError(error.description) }
        }
        guard accel == "tcg" || accel == "kvm" else { throw ValidationError("--accel must be tcg or kvm") }
        guard bootTimeout >= 1, guestTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 s") }
        guard cpus >= 1, cpus <= 64 else { throw ValidationError("--cpus must be 1 to 64") }
        guard memory >= 256 else { throw ValidationError("--memory must be at least 256 MiB") }
    }

    func run() throws {
        let sources = try (kernels.isEmpty ? ["6.1", "6.12"] : kernels).map { text in
            try reportingFailures { try KernelSource(parsing: text) }
        }
        let cacheDirectory = cache ?? KernelCache.defaultDirectory
        let directory = dir ?? "kernels-" + defaultSurveyDirectoryName().dropFirst("survey-".count)
        guard let qemuPath = findProgram(qemu) else {
            throw reportFailure(KernelsError.qemuUnavailable("\(qemu) is not installed"))
        }
        if let major = qemuMajorVersion(qemuPath), major < 10 {
            printError("mapsrace: warning: QEMU \(major) crashes 6.12 guests under TCG on this machine kind; QEMU 10 works (tools/kernels-bootstrap.sh)")
        }
        if !isEmptyOrMissing(directory) {
            throw reportFailure(KernelsError.notWritable(directory, "the directory exists and is not empty"))
        }
        guard let executable = currentExecutable() else {
            throw reportFailure(KernelsError.initramfsFailed("cannot resolve /proc/self/exe"))
        }
        if case .failure(let code) = StopSignal.install() {
            // As `survey`: a failed sigaction is a failure to record (24), not an unwritable output.
            throw reportFailure(RecordingError.systemCallFailed("sigaction", errno: code.rawValue))
        }
        printError("mapsrace: kernels \(sources.map(\.description).joined(separator: ", ")); everything goes to \(directory)/")
        let plan = KernelsPlan(
            kernels: sources, surveyArguments: surveyArguments, directory: directory, cacheDirectory: cacheDirectory,
            machine: GuestMachineSettings(
                accelerator: accel, cpus: cpus, memoryMiB: memory, bootTimeoutSeconds: bootTimeout,
                guestTimeoutSeconds: guestTimeout),
            executable: executable, includeHost: !noHost)
        let progress = TerminalProgress()
        let result = try reportingFailures {
            try runKernels(plan, qemu: qemuPath) { step in progress.show(step) }
        }
        progress.clear()
        let command = (["mapsrace", "kernels"] + sources.flatMap { ["--kernel", $0.description] } + surveyArguments)
            .joined(separator: " ")
        let jsonText = KernelsTable.json(result, toolVersion: mapsraceVersion, command: command)
        let markdownText = KernelsTable.markdown(result)
        print(json ? jsonText : markdownText, terminator: json ? "\n" : "")
        for (name, text) in [("kernels.json", jsonText + "\n"), ("kernels.md", markdownText)] {
            if case .failure(let code) = writeWholeFile(directory + "/" + name, Array(text.utf8)) {
                throw reportFailure(KernelsError.notWritable(directory + "/" + name, code.text))
            }
        }
        for row in result.rows {
            if let failure = row.failure { printError("mapsrace: error: \(row.requested): \(failure)") }
        }
        printError("mapsrace: kernels.json, kernels.md and every survey are in \(directory)/")
        if result.interruptedBy != 0 {
            printError("mapsrace: interrupted by signal \(result.interruptedBy); the table holds what was done")
            throw ExitStatus.interrupted(by: result.interruptedBy)
        }
        if result.rows.contains(where: { $0.failure != nil }) {
            throw ExitStatus.kernelFailed.exitCode
        }
    }

    func isEmptyOrMissing(_ path: String) -> Bool {
        guard let handle = opendir(path) else { return errno == ENOENT }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// PID 1 of a `mapsrace kernels` guest: never run by hand.
struct GuestInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_guest-init",
        abstract: "Internal: the init of a `mapsrace kernels` guest.",
        shouldDisplay: false
    )

    @Argument(parsing: .allUnrecognized, help: "The survey options.")
    var surveyArguments: [String] = []

    func run() throws {
        guard getpid() == 1 else {
            printError("mapsrace: error: _guest-init is the init of a `mapsrace kernels` guest; it runs only as PID 1")
            throw ExitStatus.usage.exitCode
        }
        GuestInit.run(surveyArguments: surveyArguments)
    }
}
