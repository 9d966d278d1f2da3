/// `mapsrace check`'s report for people: per input, the verdict, then
/// every listed finding with its lines.
public enum CheckReportText {
    public static func human(_ result: MapsCheckResult, name: String) -> String {
        var out = ""
        let counts = "\(result.impossibilities) impossible, \(result.suspicious) suspicious"
        var what = "\(result.lines) lines, \(result.bytes) bytes"
        if let stream = result.minidumpStream {
            what += " of the minidump's maps stream at offset \(stream.offset)"
        }
        out += "\(name): \(result.verdict.rawValue) (\(counts); \(what))\n"
        for finding in result.findings {
            let label = finding.proved ? finding.kind.rawValue : "suspicious: " + finding.kind.rawValue
            let shape = finding.kind == .overlap ? (finding.shape.map { " (\($0.rawValue))" } ?? "") : ""
            out += "  \(label)\(shape) at line \(finding.line): \(finding.detail)\n"
            let width = String(finding.line).count
            for line in finding.lines {
                let number = String(line.number)
                out += "    " + String(repeating: " ", count: max(0, width - number.count)) + number + "  " + line.text + "\n"
            }
        }
        if result.findingsOmitted > 0 {
            out += "  ... and \(result.findingsOmitted) more finding(s) not listed\n"
        }
        return out
    }
}
