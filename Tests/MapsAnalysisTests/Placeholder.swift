import Testing

@Test func placeholder_MapsAnalysisTests() { #expect(Bool(true)) }
