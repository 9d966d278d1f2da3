import CZstd
import MapsAnalysis
import MapsModel
import MapsRecorder
import MapsTrace

// The inputs the fuzzer drives (`tools/fuzz.sh`), one entry point per decoder
// of untrusted bytes. Each target must return for any input: no trap, no
// hang, memory bounded by the input. A target that traps is a finding; the
// input becomes a regression file under Tests/MapsFuzzingTests/Regressions.

public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A trace file as it is on disk: the zstd frame layer, then the records,
    /// read both ways (`nextView()` and `next()`), then analysed and diffed.
    case trace
    /// A raw record stream, compressed by the harness into valid checksummed
    /// frames so that every mutation reaches the record decoder, then read and,
    /// when it has what analysis needs, analysed and diffed like
    /// `analyze` and `diff` (structure-aware: most inputs get past zstd).
    case rawTrace = "raw-trace"
    /// Maps text: the Linux maps, smaps-header and FreeBSD procstat parsers,
    /// and the streaming read-write page count over it.
    case maps
    /// The reader's log as it hands it to the recorder.
    case readerLog = "reader-log"

    public func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .trace: Self.readTrace(Array(data))
        case .rawTrace: Self.readRawTrace(data)
        case .maps: Self.parseMaps(data)
        case .readerLog: _ = ReaderLogDecoding.check(data)
        }
    }

    /// Every record, borrowed and owned, then an analysis when the trace
    /// loads (the path `analyze` and `diff` take).
    static func readTrace(_ bytes: [UInt8]) {
        let views = TraceReader(bytes: bytes)
        do {
            while try views.nextView() != nil {}
        } catch {}
        let owned = TraceReader(bytes: bytes)
        do {
            while try owned.next() != nil {}
        } catch {}
        analyse(bytes)
    }

    static func analyse(_ bytes: [UInt8]) {
        guard let analysis = try? TraceAnalysis(.bytes(bytes)) else { return }
        var shown = 0
        _ = try? analysis.run { verdict in
            // Diff the first snapshots against the state of their first epoch, as `diff` does.
            guard shown < 2 else { return }
            shown += 1
            let state = verdict.analysis.epochList.first?.stateMin ?? analysis.truth.baseState
            guard (try? analysis.checkState(state)) != nil else { return }
            _ = SnapshotDiff.render(
                verdict: verdict, reconstructed: analysis.maps(at: state), stateLabel: "state \(state)",
                origin: analysis.context.header.originNs)
        }
    }

    /// The input as a raw stream: the first byte picks how many frames it is
    /// cut into (1-4, at arbitrary points, so records may straddle frames as
    /// a hostile writer could make them); the rest is compressed with content
    /// size and checksum, the way the writer frames blocks.
    static func readRawTrace(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let raw = UnsafeRawBufferPointer(rebasing: data.dropFirst())
        let frames = Int(first % 4) + 1
        var file: [UInt8] = []
        var start = 0
        for index in 0..<frames {
            // Cut points from the selector's high bits, so one byte reaches them all.
            let end = index == frames - 1 ? raw.count : min(raw.count, start + raw.count / frames + Int(first >> 2))
            compressFrame(UnsafeRawBufferPointer(rebasing: raw[start..<end]), into: &file)
            start = end
        }
        readTrace(file)
    }

    static func compressFrame(_ raw: UnsafeRawBufferPointer, into file: inout [UInt8]) {
        guard let context = ZSTD_createCCtx() else { return }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        let bound = ZSTD_compressBound(raw.count)
        let base = file.count
        file.append(contentsOf: repeatElement(0, count: bound))
        let written = file.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress! + base, bound, raw.baseAddress, raw.count)
        }
        file.removeLast(ZSTD_isError(written) != 0 ? bound : bound - written)
    }

    static func parseMaps(_ data: UnsafeRawBufferPointer) {
        let bytes = Array(data)
        _ = try? MapsParser.parseLinux(bytes)
        _ = try? MapsParser.parseSmapsHeaders(bytes)
        _ = try? MapsParser.parseFreeBSD(bytes)
        for format in MapsFormat.allCases {
            for pageSize: UInt64 in [1, 4096] {
                _ = try? countReadWritePages(
                    inText: bytes, format: format, range: 0..<UInt64.max, pageSize: pageSize)
            }
        }
    }
}
