import Foundation
import MapsFuzzing
import Testing

/// Every input the fuzzer ever found a problem with (a trap, a hang, memory
/// out of bounds or without bound) is kept under `Regressions/<target>/` and
/// run through its target here: each must now simply return.
@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Regressions")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        let folder = directory.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { folder.appendingPathComponent($0) }
    }

    @Test func regressionInputsAreThere() {
        // So that a wrong path cannot make the test below pass vacuously.
        #expect(FuzzTarget.allCases.map { Self.inputs($0).count }.reduce(0, +) > 0)
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionInputsReturn(_ target: FuzzTarget) throws {
        for file in Self.inputs(target) {
            let bytes = try [UInt8](Data(contentsOf: file))
            bytes.withUnsafeBytes { target.run($0) }
        }
    }
}
