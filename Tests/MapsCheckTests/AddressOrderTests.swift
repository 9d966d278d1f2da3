// The kernel's no-overlap guarantee, checked against its definition: no
// two lines overlap and none lies below an earlier one.

import MapsCheck
import MapsModel
import MapsSystem
import Testing

@Suite struct AddressOrderDefinition {
    /// Random short texts over a few pages (so that overlaps are common):
    /// `holds` is true exactly when no pair of lines breaks the order, and
    /// `add` names exactly the lines that start below some earlier end.
    @Test func agreesWithThePairwiseDefinitionOnRandomTexts() {
        var generator = SplitMix64(seed: 15)
        var broken = 0
        for _ in 0..<2000 {
            let count = Int(generator.next() % 6) + 1
            let lines = (0..<count).map { _ -> MapsLine in
                let start = generator.next() % 8
                let end = start + 1 + generator.next() % 3
                return MapsLine(start: start * 0x1000, end: end * 0x1000, permissions: Permissions(prot: 1))
            }
            let offending = Set(lines.indices.filter { later in
                lines[..<later].contains { earlier in lines[later].start < earlier.end }
            })
            #expect(AddressOrder.holds(for: lines) == offending.isEmpty)
            #expect(AddressOrder.holds(starts: lines.map(\.start), ends: lines.map(\.end)) == offending.isEmpty)
            var order = AddressOrder()
            var named: Set<Int> = []
            for (index, line) in lines.enumerated() {
                if let found = order.add(start: line.start, end: line.end, line: index + 1) {
                    named.insert(found.line - 1)
                    // The earlier line named really is one the later line starts below.
                    #expect(line.start < lines[found.earlierLine - 1].end)
                    #expect(found.earlierLine < found.line)
                }
            }
            #expect(named == offending)
            if !offending.isEmpty { broken += 1 }
        }
        #expect(broken > 100 && broken < 1900)  // both outcomes were exercised
    }

    @Test func shapes() {
        func shape(_ first: Range<UInt64>, _ second: Range<UInt64>) -> AddressOrder.Shape? {
            var order = AddressOrder()
            _ = order.add(start: first.lowerBound, end: first.upperBound, line: 1)
            return order.add(start: second.lowerBound, end: second.upperBound, line: 2)?.shape
        }
        #expect(shape(0x1000..<0x2000, 0x2000..<0x3000) == nil)
        #expect(shape(0x1000..<0x2000, 0x1000..<0x4000) == .mergeBetweenReads)
        #expect(shape(0x3000..<0x4000, 0x1000..<0x5000) == .mergeBetweenReads)
        #expect(shape(0x1000..<0x2000, 0x1000..<0x2000) == .overlap)
        #expect(shape(0x1000..<0x4000, 0x2000..<0x3000) == .overlap)
        #expect(shape(0x2000..<0x4000, 0x3000..<0x5000) == .overlap)
        #expect(shape(0x3000..<0x4000, 0x1000..<0x3000) == .backwards)
    }
}
