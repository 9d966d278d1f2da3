import Testing

@Test func placeholder_MapsSurveyTests() { #expect(Bool(true)) }
