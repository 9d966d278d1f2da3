import Testing

@Test func placeholder_MapsTraceTests() { #expect(Bool(true)) }
