import MapsTrace
import MapsSystem
import Testing

@testable import MapsRecorder

@Suite struct PageOrder {
    @Test func splitMixMatchesTheReferenceSequence() {
        // First outputs of Vigna's splitmix64.c seeded with 0.
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func shuffleIsAPermutationFixedByTheSeed() {
        let order = rollingPageOrder(pageCount: 2000, seed: 99)
        #expect(order.sorted() == Array(0..<2000))
        #expect(order != Array(0..<2000))
        #expect(rollingPageOrder(pageCount: 2000, seed: 99) == order)
        #expect(rollingPageOrder(pageCount: 2000, seed: 100) != order)
    }

    @Test func boundedDrawsStayInRange() {
        var generator = SplitMix64(seed: 5)
        var seen = Set<UInt64>()
        for _ in 0..<1000 {
            let value = generator.next(below: 7)
            #expect(value < 7)
            seen.insert(value)
        }
        #expect(seen.count == 7)
    }

    @Test func mutationCountFollowsTheWorkload() {
        #expect(RollingWorkload.mutationCount(pageCount: 2000) == 1000 + 1 + 2 * 1999)
        #expect(RollingWorkload.mutationCount(pageCount: 5) == 3 + 1 + 8)
    }
}
