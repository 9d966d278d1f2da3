// The lines of an address space model, sorted by start, in chunks, so that
// a split, insert or removal costs a chunk's length and not the whole
// address space's (the seed's arena alone is 65000 lines). It keeps two
// sums of line hashes up to date (LineHash), so that a state can be
// compared with a snapshot in constant time before the full comparison.

struct LineStore {
    private var chunks: [[ModelLine]] = [[]]
    /// The index of each chunk's first line.
    private var firstIndexes: [Int] = [0]
    /// The end of each chunk's last line (0 for an empty chunk), searched
    /// without touching the lines.
    private var chunkEnds: [UInt64] = [0]
    private(set) var count = 0
    /// Sum of `LineHash.exact` over the lines.
    private(set) var exactHash: UInt64 = 0
    /// Sum of `LineHash.pageLevel` over the lines.
    private(set) var pageHash: UInt64 = 0
    static let chunkLimit = 256
    /// Which sum is kept (none while the model is only replayed to its end).
    private(set) var hashing: LineHash.Kind?

    init() {}

    /// Starts keeping the sum of `kind` (recomputed over every line).
    mutating func keep(_ kind: LineHash.Kind?) {
        hashing = kind
        exactHash = 0
        pageHash = 0
        guard kind != nil else { return }
        for chunk in chunks { for line in chunk { account(line, true) } }
    }

    @inline(__always) private mutating func account(_ line: ModelLine, _ sign: Bool) {
        switch hashing {
        case nil:
            return
        case .exact?:
            let exact = LineHash.exact(line.line)
            if sign { exactHash &+= exact } else { exactHash &-= exact }
        case .pageLevel?:
            let page = LineHash.pageLevel(line.line)
            if sign { pageHash &+= page } else { pageHash &-= page }
        }
    }

    /// The chunk holding line `index`, and its position there.
    @inline(__always) private func locate(_ index: Int) -> (Int, Int) {
        firstIndexes.withUnsafeBufferPointer { firsts in
            var low = 0, high = firsts.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if firsts[middle] <= index { low = middle } else { high = middle - 1 }
            }
            return (low, index - firsts[low])
        }
    }

    /// Moves the first indexes of the chunks from `chunk` on by `delta`
    /// (a line inserted or removed before them): only this array is
    /// touched, not the chunks.
    private mutating func shiftFirstIndexes(from chunk: Int, by delta: Int) {
        guard chunk < firstIndexes.count else { return }
        firstIndexes.withUnsafeMutableBufferPointer { firsts in
            for c in chunk..<firsts.count { firsts[c] += delta }
        }
    }

    subscript(index: Int) -> ModelLine {
        // Borrowed: `lines[i].start` copies no line.
        _read {
            let (c, i) = locate(index)
            yield chunks[c][i]
        }
        set {
            let (c, i) = locate(index)
            account(chunks[c][i], false)
            account(newValue, true)
            chunks[c][i] = newValue
            if i == chunks[c].count - 1 { chunkEnds[c] = newValue.end }
        }
        // In place (`lines[i].line.end = x` copies no line): the sum drops
        // the line before the change and takes it back after.
        _modify {
            let (c, i) = locate(index)
            account(chunks[c][i], false)
            defer {
                account(chunks[c][i], true)
                if i == chunks[c].count - 1 { chunkEnds[c] = chunks[c][i].end }
            }
            yield &chunks[c][i]
        }
    }

    mutating func insert(_ line: ModelLine, at index: Int) {
        account(line, true)
        let (c, i) = index >= count ? (chunks.count - 1, chunks[chunks.count - 1].count) : locate(index)
        chunks[c].insert(line, at: i)
        var after = c + 1
        if chunks[c].count > Self.chunkLimit {
            let half = chunks[c].count / 2
            let upper = Array(chunks[c][half...])
            chunks[c].removeSubrange(half...)
            chunks.insert(upper, at: c + 1)
            firstIndexes.insert(firstIndexes[c] + half, at: c + 1)
            chunkEnds.insert(upper.last?.end ?? 0, at: c + 1)
            after = c + 2
        }
        chunkEnds[c] = chunks[c].last?.end ?? 0
        count += 1
        shiftFirstIndexes(from: after, by: 1)
    }

    @discardableResult
    mutating func remove(at index: Int) -> ModelLine {
        let (c, i) = locate(index)
        let line = chunks[c].remove(at: i)
        account(line, false)
        count -= 1
        if chunks[c].isEmpty && chunks.count > 1 {
            chunks.remove(at: c)
            firstIndexes.remove(at: c)
            chunkEnds.remove(at: c)
            shiftFirstIndexes(from: c, by: -1)
        } else {
            chunkEnds[c] = chunks[c].last?.end ?? 0
            shiftFirstIndexes(from: c + 1, by: -1)
        }
        return line
    }

    mutating func removeSubrange(_ range: Range<Int>) {
        for index in range.reversed() { remove(at: index) }
    }

    /// The index of the first line ending above `address` (`count` if none).
    func firstIndex(endingAbove address: UInt64) -> Int {
        // The first chunk whose last line ends above the address.
        var low = 0, high = chunkEnds.count
        while low < high {
            let middle = (low + high) / 2
            // (The ends array first: a chunk's lines are looked at only for an empty chunk.)
            if chunkEnds[middle] <= address, !chunks[middle].isEmpty { low = middle + 1 } else { high = middle }
        }
        guard low < chunks.count else { return count }
        return chunks[low].withUnsafeBufferPointer { chunk in
            var l = 0, h = chunk.count
            while l < h {
                let m = (l + h) / 2
                if chunk[m].line.end <= address { l = m + 1 } else { h = m }
            }
            return firstIndexes[low] + l
        }
    }

    var all: [ModelLine] { chunks.flatMap { $0 } }

    /// The lines, chunk by chunk (in order).
    var chunkArrays: [[ModelLine]] { chunks }

    /// Every line in order, `transform`ed, in one array (no copy of `all` first).
    func map<T>(_ transform: (ModelLine) -> T) -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        for chunk in chunks { for line in chunk { out.append(transform(line)) } }
        return out
    }
}

/// Hashes of maps lines whose sums identify a set of lines: `exact` line
/// for line, `pageLevel` so that two neighbours the page-level comparison
/// joins (same protection and backing, contiguous offsets) sum to the hash
/// of the joined line (each line adds g(key, start) - g(key, end), which
/// telescopes). Lines no syscall explains count 0; a shared anonymous
/// line's device and inode, and the `[heap]` name, are left out (the full
/// comparison checks them).
public enum LineHash {
    public enum Kind: Sendable {
        case exact
        case pageLevel
    }

    static func normalized(_ line: MapsLine) -> MapsLine? {
        // Most lines are anonymous: nothing to leave out or rename.
        if line.path.isEmpty { return line }
        if SpecialLines.isSpecial(line.path) { return nil }
        var line = line
        if line.path == "/dev/zero (deleted)" || line.path.hasPrefix("/SYSV")
            || line.path.hasPrefix("[anon_shmem:") {
            line.deviceMajor = 0
            line.deviceMinor = 0
            line.inode = 0
        }
        if line.path == "[heap]" { line.path = "" }
        return line
    }

    /// A 64-bit mix (the finalizer of SplitMix64): cheap, and good enough
    /// for sums that only decide which states get compared in full.
    @inline(__always) static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// FNV-1a of the path's bytes (0 for no path).
    @inline(__always) static func pathHash(_ path: String) -> UInt64 {
        if path.isEmpty { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }

    static func key(_ line: MapsLine) -> UInt64 {
        var h = mix(UInt64(line.permissions.prot) | (line.permissions.shared ? 8 : 0))
        h = mix(h ^ (UInt64(line.deviceMajor) << 32 | UInt64(line.deviceMinor)))
        h = mix(h ^ line.inode)
        return mix(h ^ pathHash(line.path))
    }

    public static func exact(_ line: MapsLine) -> UInt64 {
        guard let line = normalized(line) else { return 0 }
        var h = key(line)
        h = mix(h ^ line.start)
        h = mix(h ^ line.end)
        return mix(h ^ line.offset)
    }

    public static func pageLevel(_ line: MapsLine) -> UInt64 {
        guard let line = normalized(line) else { return 0 }
        let k = mix(key(line) ^ (line.inode == 0 ? 0 : line.start &- line.offset))
        return mix(k ^ line.start) &- mix(k ^ line.end)
    }

    /// The sum of one kind over a snapshot's lines.
    public static func sum(_ lines: [MapsLine], _ kind: Kind) -> UInt64 {
        var total: UInt64 = 0
        switch kind {
        case .exact: for line in lines { total &+= exact(line) }
        case .pageLevel: for line in lines { total &+= pageLevel(line) }
        }
        return total
    }

    /// The sums over a snapshot's lines.
    public static func sums(_ lines: [MapsLine]) -> (exact: UInt64, pageLevel: UInt64) {
        var e: UInt64 = 0, p: UInt64 = 0
        for line in lines {
            e &+= exact(line)
            p &+= pageLevel(line)
        }
        return (e, p)
    }
}
