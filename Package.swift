// swift-tools-version: 6.0
import PackageDescription

// The pipeline, one library per stage:
//   MapsRecorder (record) -> MapsTrace (trace) -> MapsModel (replay) -> MapsAnalysis (analysis, report)
//   MapsCheck holds what a maps text alone proves (the kernel's no-overlap guarantee and
//   the other structural checks), for `mapsrace check` and for the analysis.
//   MapsSurvey runs the whole pipeline for every reader against every workload.
//   MapsReport draws an analysis: an HTML page, a Chrome trace-event timeline.
// Under them, MapsSystem is the one system layer (clocks, uname, spawning and
// waiting, the stop-signal flag, memfd, PROCMAP_QUERY and ptrace, errno and
// EINTR) over swift-system. Over them, `mapsrace` is the one command layer:
// arguments, output, and the only map from errors to exit statuses.
let package = Package(
    name: "mapsrace",
    products: [
        .executable(name: "mapsrace", targets: ["mapsrace"]),
        .library(name: "MapsTrace", targets: ["MapsTrace"]),
        .library(name: "MapsModel", targets: ["MapsModel"]),
        .library(name: "MapsAnalysis", targets: ["MapsAnalysis"]),
        .library(name: "MapsCheck", targets: ["MapsCheck"]),
        // The fast path of `record -- CMD`: libmapsrace-preload.so, found by
        // the tracer next to the mapsrace executable and put in the traced
        // command's LD_PRELOAD. Never linked into mapsrace itself.
        .library(name: "mapsrace-preload", type: .dynamic, targets: ["MapsracePreload"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // The C half of MapsSystem: calls the Swift Glibc overlay hides or
        // cannot make (_GNU_SOURCE-only, variadic, newer than the headers):
        // fopencookie, memfd_create, mremap, PROCMAP_QUERY, ptrace, and the
        // async-signal-safe stop-signal handler. Only MapsSystem imports it.
        .target(name: "CProcfs"),
        // The system layer every other target calls instead of libc for
        // clocks (MonotonicClock, WallClock), KernelIdentity (uname),
        // PreparedSpawn + waitForProcess + WaitStatus, StopSignal, memfd,
        // procmapQuery, ptrace, errno/EINTR (retryingOnInterrupt,
        // Errno.afterFailedCall), and SplitMix64, the one seeded PRNG.
        // It re-exports swift-system's SystemPackage.
        .target(
            name: "MapsSystem",
            dependencies: ["CProcfs", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // The trace format; also JSONOutput, the one configured JSONEncoder.
        .target(name: "MapsTrace", dependencies: ["CZstd", "MapsSystem"]),
        .target(name: "MapsModel", dependencies: ["MapsTrace"]),
        .target(name: "MapsRecorder", dependencies: ["MapsTrace", "MapsModel", "MapsSystem"]),
        // What a maps text alone proves: `mapsrace check`, and analyze's no-overlap check.
        .target(name: "MapsCheck", dependencies: ["MapsModel", "MapsSystem"]),
        .target(name: "MapsAnalysis", dependencies: ["MapsTrace", "MapsModel", "MapsSystem", "MapsCheck"]),
        // The seccomp-bpf filter, the traced exec, PTRACE_GET_SYSCALL_INFO and
        // process_vm_readv for the tracer. Only MapsTracer imports it.
        .target(name: "CTracer"),
        // The preload library's C (no Swift): its wrappers, trampoline and
        // ring; include/mapsrace_fastpath.h is the layout CTracer shares.
        // Linked without swiftrt.o and (preload.c's autolink entry) with
        // --as-needed: its only dependency is libc, not the Swift runtime.
        .target(name: "MapsracePreload", linkerSettings: [.unsafeFlags(["-nostartfiles"])]),
        // The syscall-layer recorder of unmodified programs: `record -- CMD`.
        .target(name: "MapsTracer", dependencies: ["MapsTrace", "MapsRecorder", "MapsSystem", "CTracer"]),
        // Every reader against every workload, recorded and analysed: `mapsrace survey`.
        .target(name: "MapsSurvey", dependencies: ["MapsRecorder", "MapsAnalysis", "MapsTrace", "MapsSystem"]),
        // The same survey on other kernels, booted under QEMU: `mapsrace kernels`
        // (kernel packages, the guest's initramfs and init, the results port).
        .target(name: "MapsKernels", dependencies: ["MapsTrace", "MapsSystem"]),
        // The analysis as pictures: `mapsrace report` (one HTML page) and
        // `mapsrace export` (Chrome trace-event JSON for Perfetto).
        .target(name: "MapsReport", dependencies: ["MapsAnalysis", "MapsModel", "MapsTrace", "MapsSystem"]),
        // Entry points for the fuzzer (tools/fuzz.sh) and their replay driver.
        .target(name: "MapsFuzzing", dependencies: ["MapsTrace", "MapsModel", "MapsAnalysis", "MapsRecorder", "CZstd"]),
        .executableTarget(name: "mapsrace-fuzz", dependencies: ["MapsFuzzing"]),
        .executableTarget(
            name: "mapsrace",
            dependencies: [
                "MapsTrace", "MapsModel", "MapsRecorder", "MapsAnalysis", "MapsSurvey", "MapsReport", "MapsSystem", "MapsCheck", "MapsTracer", "MapsKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What tests share: the `mapsrace` binary locator and runner,
        // temporary directories, the planted-trace builders (PlantedTrace,
        // SmallTrace). The PRNG is MapsSystem's SplitMix64.
        .target(
            name: "MapsTestSupport", dependencies: ["MapsSystem", "MapsTrace", "MapsModel", "MapsAnalysis"],
            path: "Tests/MapsTestSupport"),
        .testTarget(name: "MapsTraceTests", dependencies: ["MapsTrace", "MapsSystem"]),
        .testTarget(name: "MapsModelTests", dependencies: ["MapsModel", "MapsTrace", "MapsSystem"]),
        .testTarget(
            name: "MapsRecorderTests",
            dependencies: ["MapsRecorder", "MapsTrace", "MapsModel", "MapsAnalysis", "MapsSystem", "MapsTestSupport", "MapsCheck"]),
        .testTarget(
            name: "MapsAnalysisTests", dependencies: ["MapsAnalysis", "MapsTrace", "MapsModel", "MapsSystem", "MapsTestSupport"]),
        .testTarget(name: "MapsCheckTests", dependencies: ["MapsCheck", "MapsModel", "MapsSystem", "MapsTestSupport"]),
        .testTarget(
            name: "MapsSurveyTests",
            dependencies: ["MapsSurvey", "MapsAnalysis", "MapsRecorder", "MapsSystem", "MapsTestSupport"]),
        .testTarget(
            name: "MapsReportTests",
            dependencies: ["MapsReport", "MapsAnalysis", "MapsTrace", "MapsSystem", "MapsTestSupport"]),
        // The command layer: the exit-status table against the README, JSON keys against docs/.
        .testTarget(
            name: "MapsTracerTests", dependencies: ["MapsTracer", "MapsTrace", "MapsAnalysis", "MapsModel", "MapsTestSupport"]),
        .testTarget(name: "MapsraceCommandTests", dependencies: ["mapsrace", "MapsTestSupport", "MapsCheck"]),
        .testTarget(name: "MapsKernelsTests", dependencies: ["MapsKernels", "MapsTrace", "MapsSystem", "MapsTestSupport"]),
        .testTarget(name: "MapsFuzzingTests", dependencies: ["MapsFuzzing", "MapsTrace", "MapsAnalysis", "MapsModel"]),
    ]
)
