import MapsTrace

/// The read pattern of one real tool that reads `/proc/PID/maps` (or
/// smaps), named after that tool, with the check it makes of what it read.
/// docs/readers.md names the source file each one follows.
public enum ToolProfile: String, CaseIterable, Sendable, Equatable {
    case crashpad, breakpad, sanitizer, go, hotspot, gdb, valgrind, dynamorio, perf, psutil, cpptrace

    /// How the tool issues its reads.
    public enum ReadPattern: Sendable, Equatable {
        /// read(2) of `bytes` until end of file.
        case fixed(bytes: Int)
        /// A line buffer of `capacity` bytes refilled only when it holds no
        /// whole line: read(2) of `capacity` minus the partial line kept.
        case lineBuffer(capacity: Int)
        /// A buffer of `capacity` bytes whose consumed part (every whole
        /// line) is refilled once no whole line is left: read(2) of the
        /// bytes consumed, after moving the partial line to the front.
        case consumedRefill(capacity: Int)
        /// A buffer of `first` bytes filled with read(2) of what is left of
        /// it; when full before end of file, reopened with twice the size.
        case reopenDoubling(first: Int, most: Int)
        /// Go's os.ReadFile: 512 bytes, then a slice grown by append.
        case goReadFile
        /// pread64 at the running offset into a buffer of `first` bytes less
        /// `padding`, the buffer doubled whenever it is more than half full.
        case preadGrowing(first: Int, padding: Int)
        /// read(2) of what is left of one `capacity`-byte buffer.
        case fillOnce(capacity: Int)
        /// CPython's FileIO.readall: 8 KiB, then a growing estimate.
        case pythonReadAll
    }

    /// What the tool checks in what it read.
    public enum Validation: String, Sendable, Equatable {
        case none
        /// A line starting below the previous line's end makes it re-read
        /// the whole file, at most `attempts` times in all, then give up.
        case overlapRetry = "overlap_retry"
        /// A line whose start is not above the previous start is skipped.
        case skipBackwards = "skip_backwards"
        /// A full buffer ends the reading with an error.
        case abortWhenFull = "abort_when_full"
        /// A full buffer makes it reopen with a larger one (size only).
        case sizeOnly = "size_only"
        /// Reading stops when it has taken longer than a time limit.
        case timeout
    }

    public var readPattern: ReadPattern {
        switch self {
        case .crashpad: .fixed(bytes: 4096)
        case .breakpad: .lineBuffer(capacity: 512)
        case .sanitizer: .reopenDoubling(first: 4096, most: 1 << 26)
        case .go: .goReadFile
        case .hotspot: .fixed(bytes: 32)
        case .gdb: .preadGrowing(first: 4096, padding: 1)
        case .valgrind: .fillOnce(capacity: 100_000)
        case .dynamorio: .consumedRefill(capacity: 4103)
        case .perf: .fixed(bytes: 8192)
        case .psutil: .pythonReadAll
        case .cpptrace: .fixed(bytes: 8191)
        }
    }

    public var validation: Validation {
        switch self {
        case .crashpad, .cpptrace: .overlapRetry
        case .dynamorio: .skipBackwards
        case .valgrind: .abortWhenFull
        case .sanitizer: .sizeOnly
        case .perf: .timeout
        default: .none
        }
    }

    /// Whole reads a result may take: `overlapRetry` readers try 3 times.
    public var attemptsPerResult: Int {
        switch self {
        case .crashpad, .cpptrace: Self.overlapAttempts
        // 4 KiB doubled up to 64 MiB: 15 sizes.
        case .sanitizer: 15
        default: 1
        }
    }

    /// Crashpad's `attempts = 3`; cpptrace's first try and two retries.
    public static let overlapAttempts = 3
    /// perf's default --proc-map-timeout (500 ms).
    public static let perfTimeoutNs: UInt64 = 500_000_000

    /// The procfs file read, relative to `/proc/<pid>/`.
    public var procfsRelativePath: (pidTwice: Bool, file: String) {
        switch self {
        case .perf: (true, "maps")
        case .psutil: (false, "smaps")
        default: (false, "maps")
        }
    }

    /// The source file the profile follows (docs/readers.md has more).
    public var source: String {
        switch self {
        case .crashpad: "crashpad util/linux/memory_map.cc (MemoryMap::Initialize), util/file/file_io_posix.cc"
        case .breakpad: "breakpad src/client/linux/minidump_writer/line_reader.h (LineReader)"
        case .sanitizer: "compiler-rt sanitizer_common/sanitizer_file.cpp (ReadFileToBuffer)"
        case .go: "go src/os/file.go (ReadFile), runtime/slice.go (growslice)"
        case .hotspot: "hotspot os/linux/os_linux.cpp (_print_ascii_file)"
        case .gdb: "gdb target.c (target_fileio_read_alloc_1)"
        case .valgrind: "valgrind coregrind/m_aspacemgr/aspacemgr-linux.c (read_procselfmaps_into_buf)"
        case .dynamorio: "dynamorio core/unix/memquery_linux.c (memquery_iterator_next)"
        case .perf: "linux tools/perf/util/synthetic-events.c (perf_event__synthesize_mmap_events)"
        case .psutil: "psutil _pslinux.py (_read_smaps_file), CPython Modules/_io/fileio.c (readall)"
        case .cpptrace: "cpptrace src/platform/memory_mapping.hpp (std::ifstream + getline)"
        }
    }

    /// One line for `--reader`'s help.
    public var summary: String {
        switch self {
        case .crashpad: "Crashpad: read(2) of 4096; overlap: re-read, 3 tries"
        case .breakpad: "Breakpad LineReader: raw read into a 512-byte line buffer"
        case .sanitizer: "sanitizers: a page buffer, reopened doubled until it fits"
        case .go: "Go os.ReadFile: 512 bytes, then append's growth"
        case .hotspot: "HotSpot crash log: read(2) of 32 bytes"
        case .gdb: "gdb info proc mappings: pread64 of 4095, growing"
        case .valgrind: "Valgrind: one 100000-byte buffer, aborts when full"
        case .dynamorio: "DynamoRIO: 4103-byte buffer; skips lines going backwards"
        case .perf: "perf: /proc/PID/task/PID/maps, read(2) of 8192, 500 ms"
        case .psutil: "psutil memory_maps: smaps read by Python's readall"
        case .cpptrace: "cpptrace: ifstream (read of 8191); overlap: 3 tries"
        }
    }

    /// The trace header's reader parameters.
    public var traceParameters: [TraceParameter] {
        var parameters: [TraceParameter] = []
        switch readPattern {
        case .fixed(let bytes):
            parameters = [TraceParameter("api", "read"), TraceParameter("request", "\(bytes)")]
        case .lineBuffer(let capacity):
            parameters = [TraceParameter("api", "read"), TraceParameter("line_buffer", "\(capacity)")]
        case .consumedRefill(let capacity):
            parameters = [TraceParameter("api", "read"), TraceParameter("refill_buffer", "\(capacity)")]
        case .reopenDoubling(let first, let most):
            parameters = [
                TraceParameter("api", "read"), TraceParameter("first_buffer", "\(first)"),
                TraceParameter("largest_buffer", "\(most)"),
            ]
        case .goReadFile:
            parameters = [TraceParameter("api", "read"), TraceParameter("growth", "go_append")]
        case .preadGrowing(let first, let padding):
            parameters = [
                TraceParameter("api", "pread64"), TraceParameter("first_buffer", "\(first)"),
                TraceParameter("padding", "\(padding)"),
            ]
        case .fillOnce(let capacity):
            parameters = [TraceParameter("api", "read"), TraceParameter("buffer", "\(capacity)")]
        case .pythonReadAll:
            parameters = [TraceParameter("api", "read"), TraceParameter("growth", "cpython_readall")]
        }
        let path = procfsRelativePath
        if path.pidTwice { parameters.append(TraceParameter("path", "task")) }
        if path.file == "smaps" { parameters.append(TraceParameter("file", "smaps")) }
        if validation != .none { parameters.append(TraceParameter("validation", validation.rawValue)) }
        if validation == .overlapRetry { parameters.append(TraceParameter("max_attempts", "\(attemptsPerResult)")) }
        if validation == .timeout { parameters.append(TraceParameter("timeout_ns", "\(Self.perfTimeoutNs)")) }
        return parameters
    }

    /// The most bytes one request may ask for.
    var largestRequestBytes: Int {
        switch readPattern {
        case .fixed(let bytes): bytes
        case .lineBuffer(let capacity), .consumedRefill(let capacity), .fillOnce(let capacity): capacity
        case .reopenDoubling(_, let most): most
        // Requests grow with the text; the buffer check refuses what does not fit.
        case .goReadFile, .preadGrowing, .pythonReadAll: 1 << 20
        }
    }

    /// The smallest a read returns but the last of a snapshot.
    var smallestReturnBytes: Int {
        switch readPattern {
        case .fixed(let bytes): min(bytes, 512)
        default: 32
        }
    }
}

/// Go's slice growth for a byte slice (runtime/slice.go `nextslicecap` and
/// malloc's size classes, Go 1.20 and later): the capacity `append` gives a
/// full slice of `oldCapacity` bytes that needs `needed`.
public enum GoSliceGrowth {
    /// runtime/sizeclasses.go: every small object size class up to 32 KiB.
    static let sizeClasses: [Int] = [
        8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384,
        416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072,
        3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568,
        14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
    ]

    public static func nextCapacity(oldCapacity: Int, needed: Int) -> Int {
        var capacity = oldCapacity
        let doubled = capacity + capacity
        if needed > doubled {
            capacity = needed
        } else if oldCapacity < 256 {
            capacity = doubled
        } else {
            while capacity < needed { capacity += (capacity + 3 * 256) >> 2 }
        }
        return roundUpSize(capacity)
    }

    /// malloc's rounding: the size class for small sizes, whole 8 KiB pages above.
    static func roundUpSize(_ size: Int) -> Int {
        if size <= 32768, let fitting = sizeClasses.first(where: { $0 >= size }) { return fitting }
        return (size + 8191) / 8192 * 8192
    }
}

/// CPython's FileIO.readall buffer estimate (Modules/_io/fileio.c
/// `new_buffersize`) for a file whose stat size is 0.
public enum PythonReadAllGrowth {
    public static let first = 8192

    public static func next(after size: Int) -> Int {
        let addend = size > 65536 ? size >> 3 : 256 + size
        return size + max(addend, 8192)
    }
}
