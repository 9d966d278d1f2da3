/// What can stop `mapsrace kernels`, as a whole or for one kernel.
public enum KernelsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `--kernel` that is neither a series, a package name nor a path.
    case invalidKernel(String)
    /// A program the step needs is not installed.
    case toolMissing(String, why: String)
    /// QEMU is missing or too old.
    case qemuUnavailable(String)
    /// apt knows no package for the kernel.
    case noPackage(String)
    /// Downloading or unpacking the kernel failed.
    case fetchFailed(String, String)
    /// The cache or output directory cannot be written.
    case notWritable(String, String)
    /// Building the guest's initramfs failed (reading the binary or a library).
    case initramfsFailed(String)

    public var description: String {
        switch self {
        case .invalidKernel(let text):
            "'\(text)' is not a kernel: give a series (6.1, 6.12), a package (linux-image-...) or a kernel image path"
        case .toolMissing(let tool, let why):
            "\(tool) is not installed (needed \(why)); tools/bootstrap.sh installs what mapsrace kernels needs"
        case .qemuUnavailable(let why):
            "QEMU is unavailable: \(why); tools/kernels-bootstrap.sh installs QEMU 10 from bookworm-backports"
        case .noPackage(let kernel):
            "no kernel package for \(kernel): apt knows no linux-image-\(kernel)...-cloud-amd64-unsigned (run apt-get update, or name a package or image)"
        case .fetchFailed(let kernel, let why):
            "cannot fetch kernel \(kernel): \(why)"
        case .notWritable(let path, let why):
            "cannot write \(path): \(why)"
        case .initramfsFailed(let why):
            "cannot build the guest's initramfs: \(why)"
        }
    }
}
