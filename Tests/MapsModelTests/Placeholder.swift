import Testing

@Test func placeholder_MapsModelTests() { #expect(Bool(true)) }
