import Testing

@Test func placeholder_MapsRecorderTests() { #expect(Bool(true)) }
