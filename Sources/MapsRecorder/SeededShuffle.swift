import MapsSystem

/// Fisher-Yates over `pages` with `SplitMix64(seed:)`: the same seed gives the
/// same order everywhere.
public func shufflePageOrder(_ pages: UnsafeMutableBufferPointer<UInt32>, seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    var index = pages.count - 1
    while index > 0 {
        let other = Int(generator.next(below: UInt64(index + 1)))
        pages.swapAt(index, other)
        index -= 1
    }
}

/// The page order of the rolling workload for `pageCount` pages and `seed`,
/// as a plain array (for tests and tools; the recorder shuffles in place into
/// preallocated memory).
public func rollingPageOrder(pageCount: Int, seed: UInt64) -> [UInt32] {
    var order = (0..<UInt32(pageCount)).map { $0 }
    order.withUnsafeMutableBufferPointer { shufflePageOrder($0, seed: seed) }
    return order
}
