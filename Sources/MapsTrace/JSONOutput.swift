// JSONEncoder without the rest of Foundation (and its ICU start-up cost).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one configured JSONEncoder of mapsrace's Codable JSON documents
/// (`analyze --json`, survey.json, a recording's outcome report): pretty
/// printed, keys sorted, slashes unescaped. `record --json` and
/// `info --json` keep their documented, hand-ordered layout (docs/record-json.md,
/// docs/info-json.md) and are not Codable documents.
public enum JSONOutput {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` encoded as UTF-8 JSON bytes.
    public static func encoded<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder().encode(value))
    }

    /// `value` as JSON text; "{}" if it cannot be encoded (plain value types cannot fail).
    public static func text<T: Encodable>(_ value: T) -> String {
        let bytes = (try? encoded(value)) ?? Array("{}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }
}
