import MapsTrace

/// Maps a time interval to the states possible inside it.
///
/// Mutation m took effect somewhere inside [m.tBegin, m.tEnd]. During an
/// interval [begin, end] every mutation that had returned by `begin` has
/// surely taken effect, and none that began at or after `end` can have:
/// the possible states are [#(tEnd <= begin), #(tBegin < end)].
struct MutationClock {
    private let begins: [UInt64]
    private let ends: [UInt64]
    private let ordered: Bool

    init(_ mutations: [MutationRecord]) {
        begins = mutations.map(\.tBegin)
        ends = mutations.map(\.tEnd)
        // One mutator thread issues mutations one after another; if a trace
        // ever breaks that, fall back to counting.
        ordered = zip(begins, begins.dropFirst()).allSatisfy { $0 <= $1 }
            && zip(ends, ends.dropFirst()).allSatisfy { $0 <= $1 }
    }

    func states(from begin: UInt64, to end: UInt64) -> ClosedRange<Int> {
        let low: Int
        let high: Int
        if ordered {
            low = ends.partitionPoint { $0 > begin }
            high = begins.partitionPoint { $0 >= end }
        } else {
            low = ends.reduce(0) { $0 + ($1 <= begin ? 1 : 0) }
            high = begins.reduce(0) { $0 + ($1 < end ? 1 : 0) }
        }
        return low...max(low, high)
    }
}
