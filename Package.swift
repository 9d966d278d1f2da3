// swift-tools-version: 6.0
import PackageDescription

// The pipeline, one library per stage:
//   MapsRecorder (record) -> MapsTrace (trace) -> MapsModel (replay) -> MapsAnalysis (analysis, report)
//   MapsSurvey runs the whole pipeline for every reader against every workload.
// `mapsrace` is a thin command-line layer over them.
let package = Package(
    name: "mapsrace",
    products: [
        .executable(name: "mapsrace", targets: ["mapsrace"]),
        .library(name: "MapsTrace", targets: ["MapsTrace"]),
        .library(name: "MapsModel", targets: ["MapsModel"]),
        .library(name: "MapsAnalysis", targets: ["MapsAnalysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // glibc calls the Swift Glibc overlay hides (they need _GNU_SOURCE):
        // fopencookie and memfd_create.
        .target(name: "CProcfs"),
        .target(name: "MapsTrace", dependencies: ["CZstd"]),
        .target(name: "MapsModel", dependencies: ["MapsTrace"]),
        .target(name: "MapsRecorder", dependencies: ["MapsTrace", "MapsModel", "CProcfs"]),
        .target(name: "MapsAnalysis", dependencies: ["MapsTrace", "MapsModel"]),
        // Every reader against every workload, recorded and analysed: `mapsrace survey`.
        .target(name: "MapsSurvey", dependencies: ["MapsRecorder", "MapsAnalysis", "MapsTrace"]),
        .executableTarget(
            name: "mapsrace",
            dependencies: [
                "MapsTrace", "MapsModel", "MapsRecorder", "MapsAnalysis", "MapsSurvey",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MapsTraceTests", dependencies: ["MapsTrace"]),
        .testTarget(name: "MapsModelTests", dependencies: ["MapsModel", "MapsTrace"]),
        .testTarget(name: "MapsRecorderTests", dependencies: ["MapsRecorder", "MapsTrace", "MapsModel", "MapsAnalysis"]),
        .testTarget(name: "MapsAnalysisTests", dependencies: ["MapsAnalysis", "MapsTrace", "MapsModel"]),
        .testTarget(name: "MapsSurveyTests", dependencies: ["MapsSurvey", "MapsAnalysis", "MapsRecorder"]),
    ]
)
