import MapsFuzzing

#if canImport(Glibc)
import Glibc
#endif

// Two builds of one driver:
// - built with `-DMAPSRACE_LIBFUZZER` and the fuzzer's coverage
//   instrumentation (tools/fuzz.sh), libFuzzer runs the target named by
//   MAPSRACE_FUZZ_TARGET;
// - built plainly, `mapsrace-fuzz TARGET FILE...` runs each file through
//   the target once (to reproduce a finding without the fuzzer).

func selectedTarget(_ name: String?) -> FuzzTarget {
    guard let name, let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        complain("name a target: \(names)")
        exit(64)
    }
    return target
}

func complain(_ message: String) {
    let line = Array("mapsrace-fuzz: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

#if MAPSRACE_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

nonisolated(unsafe) var fuzzTarget = FuzzTarget.trace

// SwiftPM links an executable's entry point as `<module>_main`; libFuzzer's
// own `main` is left out (libclang_rt.fuzzer_no_main), so this is the program's main.
@_cdecl("mapsrace_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    fuzzTarget = selectedTarget(getenv("MAPSRACE_FUZZ_TARGET").map { String(cString: $0) })
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in
        fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        let target = selectedTarget(arguments.first)
        for path in arguments.dropFirst() {
            guard let bytes = readWholeFile(path) else {
                complain("cannot read \(path)")
                exit(66)
            }
            bytes.withUnsafeBytes { target.run($0) }
            print("\(path): ok")
        }
    }

    static func readWholeFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = fread(&buffer, 1, buffer.count, file)
            if got == 0 { return ferror(file) == 0 ? bytes : nil }
            bytes += buffer[..<got]
        }
    }
}
#endif
