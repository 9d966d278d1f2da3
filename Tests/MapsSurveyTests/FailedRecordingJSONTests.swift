import Foundation
import MapsSurvey
import Testing

/// docs/survey.md: `trace` is a path or `null`, never a missing key.
@Suite struct FailedRecordingJSONTests {
    @Test func recordingWithoutATraceHasANullTrace() throws {
        let failure = FailedRecording(repetition: 2, seed: 9, trace: nil, exitCode: 21, message: "maps not readable")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(failure))
        let object = try #require(json as? [String: Any])
        #expect(object["trace"] is NSNull)
        #expect(Set(object.keys) == ["repetition", "seed", "trace", "exit_code", "message"])
        #expect(try JSONDecoder().decode(FailedRecording.self, from: JSONEncoder().encode(failure)) == failure)
    }
}
