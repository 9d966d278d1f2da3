// `mapsrace kernels` refusing bad input before anything boots: each with its
// own exit status (README's table) and a message that says what to do.

import MapsTestSupport
import Testing

@Suite struct KernelsCommandErrorTests {
    @Test func missingQemuExits50() throws {
        let directory = try makeTemporaryDirectory("kernels-errors")
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(
            ["kernels", "--no-host", "--kernel", "6.1", "--qemu", "/nonexistent/qemu-system-x86_64", "--dir", "out"],
            in: directory)
        #expect(run.exitCode == 50, "\(run.standardError)")
        #expect(run.standardError.contains("/nonexistent/qemu-system-x86_64 is not installed"), "\(run.standardError)")
    }

    @Test func aKernelThatIsNotOneExits64() throws {
        let directory = try makeTemporaryDirectory("kernels-errors")
        defer { removeTemporaryDirectory(directory) }
        let run = try runMapsrace(["kernels", "--no-host", "--kernel", "6.x", "--dir", "out"], in: directory)
        #expect(run.exitCode == 64, "\(run.standardError)")
        #expect(run.standardError.contains("'6.x' is not a kernel"), "\(run.standardError)")
    }
}
