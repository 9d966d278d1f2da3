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

    /// A JSON string literal for `text`, for the hand-ordered documents
    /// (`record --json`, also with `-- CMD`, and `info --json`): quotes, backslashes and control
    /// characters escaped, everything else as it is.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `value` as JSON text; "{}" if it cannot be encoded (plain value types cannot fail).
    public static func text<T: Encodable>(_ value: T) -> String {
        let bytes = (try? encoded(value)) ?? Array("{}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }
}
