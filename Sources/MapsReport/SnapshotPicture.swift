import MapsAnalysis
import MapsModel
import MapsTrace

/// What the page draws for one snapshot, reduced to a bounded size whatever
/// the trace's: reads one by one (a snapshot has hundreds), mutations and
/// address-space lines in bins.
struct SnapshotPicture: Encodable {
    /// Bins of the mutation lane (one or two pixels each at 1280 px).
    static let timeBins = 800
    /// Bins of the address-space strip (one per pixel row).
    static let addressBins = 360

    var index: Int
    /// Nanoseconds after the trace's origin where the timeline starts.
    var beginNs: Int64
    /// The timeline's length, ns.
    var spanNs: Int64
    /// Per read: begin, end (ns after `beginNs`), offset, requested, returned, sequence.
    var reads: [[Int64]]
    /// Mutations that began in each time bin.
    var mutationBins: [Int]
    var mutationCount: Int
    /// First and last mutation sequence in the window, -1 when none.
    var firstMutation: Int64
    var lastMutation: Int64
    var epochs: [EpochBand]
    var anomalies: [AnomalyMark]
    var strip: AddressStrip

    struct EpochBand: Encodable {
        var index: Int
        var beginNs: Int64
        var endNs: Int64
        var firstLine: Int
        var lastLine: Int
        var stateMin: Int
        var stateMax: Int
    }

    struct AnomalyMark: Encodable {
        /// The element id of its details on the page.
        var id: String
        var kind: String
        var glyph: String
        /// Where on the timeline (ns after `beginNs`).
        var timeNs: Int64
        /// Where in the arena, as fractions 0...1 of it (clamped).
        var addressLow: Double
        var addressHigh: Double
    }

    struct AddressStrip: Encodable {
        var arenaStart: String
        var arenaEnd: String
        /// Per bin: the epoch most of the bin's observed bytes belong to;
        /// -1 no observed line, -2 only lines no epoch holds (phantom).
        var epoch: [Int]
        /// Per bin: percent of the bin's pages mapped in the truth.
        var truthMapped: [Int]
        /// Per bin: percent of the bin's pages whose observed protection
        /// differs from the truth's.
        var differs: [Int]
        /// Arena fractions of the read-write pages seen, and of the truth's.
        var readWriteSeen: [Double]
        var readWriteTruth: [Double]
        var truthState: Int
        var truthStateWhy: String
    }
}

extension SnapshotPicture {
    /// Builds the picture of one analysed snapshot.
    init(
        verdict: SnapshotVerdict, analysis: TraceAnalysis, mutationBegins: [UInt64], mutationSequences: [UInt64],
        anomalyIDs: [String]
    ) {
        let snapshot = verdict.snapshot
        let result = verdict.analysis
        let origin = analysis.context.header.originNs
        let reads = snapshot.reads
        let begin = reads.first?.tBegin ?? snapshot.begin?.tBegin ?? origin
        let end = max(begin &+ 1, reads.last?.tEnd ?? snapshot.end?.tEnd ?? begin)
        let span = end - begin
        index = result.index
        beginNs = Int64(bitPattern: begin &- origin)
        spanNs = Int64(span)
        func relative(_ time: UInt64) -> Int64 { Int64(bitPattern: time &- begin) }
        self.reads = reads.map { read in
            [relative(read.tBegin), relative(max(read.tBegin, read.tEnd)), Int64(bitPattern: read.offset),
             Int64(bitPattern: read.requested), read.returned, Int64(read.sequence)]
        }

        // Mutations that began inside the window, binned.
        let first = mutationBegins.partitionPoint { $0 >= begin }
        let last = mutationBegins.partitionPoint { $0 >= end }
        var bins = [Int](repeating: 0, count: Self.timeBins)
        for time in mutationBegins[first..<last] {
            let bin = Int((Double(time - begin) / Double(span)) * Double(Self.timeBins))
            bins[min(max(bin, 0), Self.timeBins - 1)] += 1
        }
        mutationBins = bins
        mutationCount = last - first
        firstMutation = last > first ? Int64(bitPattern: mutationSequences[first]) : -1
        lastMutation = last > first ? Int64(bitPattern: mutationSequences[last - 1]) : -1

        func readTime(_ read: Int, end: Bool) -> Int64 {
            guard read >= 0 && read < reads.count else { return 0 }
            return relative(end ? max(reads[read].tBegin, reads[read].tEnd) : reads[read].tBegin)
        }
        epochs = result.epochList.enumerated().map { index, epoch in
            EpochBand(
                index: index, beginNs: readTime(epoch.firstRead, end: false), endNs: readTime(epoch.lastRead, end: true),
                firstLine: epoch.firstLine, lastLine: epoch.lastLine, stateMin: epoch.stateMin, stateMax: epoch.stateMax)
        }

        let arena = verdict.arena
        let arenaLength = Double(max(arena.upperBound - arena.lowerBound, 1))
        func fraction(_ address: UInt64) -> Double {
            let clamped = min(max(address, arena.lowerBound), arena.upperBound)
            return Double(clamped - arena.lowerBound) / arenaLength
        }
        anomalies = zip(result.anomalies, anomalyIDs).map { anomaly, id in
            let boundary = anomaly.boundary
            let time: Int64
            if boundary.beforeRead == boundary.afterRead {
                time = (readTime(boundary.afterRead, end: false) + readTime(boundary.afterRead, end: true)) / 2
            } else {
                time = (readTime(boundary.beforeRead, end: true) + readTime(boundary.afterRead, end: false)) / 2
            }
            let low = fraction(parseAddress(anomaly.start) ?? arena.lowerBound)
            let high = fraction(parseAddress(anomaly.end) ?? arena.lowerBound)
            return AnomalyMark(
                id: id, kind: anomaly.kind.rawValue, glyph: SnapshotWords.glyph(anomaly.kind), timeNs: time,
                addressLow: min(low, high), addressHigh: max(low, high))
        }
        strip = Self.strip(verdict: verdict, truth: analysis.truth)
    }

    /// The address-space strip: observed lines by epoch, the truth at the
    /// explaining state (for a torn snapshot: the state of its first epoch,
    /// what `mapsrace diff` compares with), and where the two differ.
    static func strip(verdict: SnapshotVerdict, truth: GroundTruth) -> AddressStrip {
        let result = verdict.analysis
        let arena = truth.arena
        let pageSize = truth.pageSize
        let pages = truth.pageCount
        let state: Int
        let why: String
        if let explaining = result.explainingState {
            state = explaining
            why = "the state that explains the whole snapshot"
        } else if let first = result.epochList.first {
            state = first.stateMin
            why = "the first state of epoch 0, as `mapsrace diff` compares"
        } else {
            state = truth.baseState
            why = "the initial quiescent maps (no epoch)"
        }
        let bins = min(addressBins, max(pages, 1))
        func bin(ofPage page: Int) -> Int { min(bins - 1, page * bins / max(pages, 1)) }

        // Observed protection per page (nil: no line), and epoch bytes per bin.
        var observed = [Permissions?](repeating: nil, count: pages)
        var epochBytes = [[Int: UInt64]](repeating: [:], count: bins)
        var readWriteSeen: [Double] = []
        for (index, line) in verdict.text.lines.enumerated() {
            guard line.end > arena.lowerBound, line.start < arena.upperBound else { continue }
            let low = truth.page(containing: max(line.start, arena.lowerBound))
            let highAddress = min(line.end, arena.upperBound)
            let high = Int((highAddress - arena.lowerBound + pageSize - 1) / pageSize)
            guard low < high else { continue }
            let epoch = verdict.lineEpochs[index] ?? -2
            for page in low..<min(high, pages) {
                observed[page] = line.permissions
                epochBytes[bin(ofPage: page)][epoch, default: 0] += pageSize
            }
            if line.permissions.read && line.permissions.write {
                for page in low..<min(high, pages) { readWriteSeen.append(Double(page) / Double(max(pages, 1))) }
            }
        }
        var epoch = [Int](repeating: -1, count: bins)
        for index in 0..<bins {
            // The epoch with the most bytes; ties to the lower epoch.
            if let best = epochBytes[index].max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) {
                epoch[index] = best.key
            }
        }
        var mapped = [Int](repeating: 0, count: bins)
        var differing = [Int](repeating: 0, count: bins)
        var total = [Int](repeating: 0, count: bins)
        var readWriteTruth: [Double] = []
        for page in 0..<pages {
            let protection = truth.pageState(page, at: state).protection
            let index = bin(ofPage: page)
            total[index] += 1
            if protection.isMapped { mapped[index] += 1 }
            if protection.isReadWrite { readWriteTruth.append(Double(page) / Double(max(pages, 1))) }
            let truthPermissions = protection.permissions
            let seen = observed[page]
            if truthPermissions?.read != seen?.read || truthPermissions?.write != seen?.write
                || truthPermissions?.execute != seen?.execute {
                differing[index] += 1
            }
        }
        func percent(_ part: [Int]) -> [Int] {
            zip(part, total).map { $1 == 0 ? 0 : ($0 * 100 + $1 - 1) / $1 }
        }
        return AddressStrip(
            arenaStart: addressString(arena.lowerBound), arenaEnd: addressString(arena.upperBound),
            epoch: epoch, truthMapped: percent(mapped), differs: percent(differing),
            readWriteSeen: Array(readWriteSeen.prefix(64)), readWriteTruth: Array(readWriteTruth.prefix(64)),
            truthState: state, truthStateWhy: why)
    }
}

/// `0x7f…` (or bare hex) to a number.
func parseAddress(_ text: String) -> UInt64? {
    let digits = text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
    return UInt64(digits, radix: 16)
}
