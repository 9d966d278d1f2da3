// What `mapsrace check` found in one maps text: the data behind its report
// and its JSON (docs/check-json.md is the contract).

/// What one finding is. The first five are impossible in any text the kernel
/// produced in one instant (proved); the last two are only suspicious.
public enum CheckFindingKind: String, Sendable, Equatable, CaseIterable, Encodable {
    /// A line whose range intersects an earlier line's (proc.rst: no two
    /// regions overlap). `shape` says whether it is a merge between reads.
    case overlap
    /// A line that lies wholly below an earlier line (addresses go backwards).
    case backwards
    /// A range that ends at or before its start.
    case endBeforeStart = "end_before_start"
    /// The text ends inside a line: the kernel ends every line with a
    /// newline, so the text was not read (or saved) to its end.
    case truncatedLastLine = "truncated_last_line"
    /// A line identical to the line before it (or to the earlier line it
    /// repeats the range of): one mapping reported twice.
    case duplicateLine = "duplicate_line"
    /// Neighbouring anonymous lines (no file, inode 0) with identical
    /// permissions, the second starting where the first ends: the kernel
    /// normally merges such mappings into one.
    case unmergedAnonymous = "unmerged_anonymous"
    /// A hole between two lines of the same backing (both anonymous, or the
    /// same file) exactly where a reader taking a page per read(2) resumed:
    /// the shape of a line skipped when a kernel that resumes by line count
    /// lost a mapping between two reads.
    case pageBoundaryJump = "page_boundary_jump"

    /// Impossible in a text produced at one instant (as opposed to suspicious).
    public var proved: Bool {
        switch self {
        case .overlap, .backwards, .endBeforeStart, .truncatedLastLine, .duplicateLine: true
        case .unmergedAnonymous, .pageBoundaryJump: false
        }
    }
}

/// One line of the text, numbered from 1 as an editor numbers it.
public struct NumberedLine: Sendable, Equatable, Encodable {
    public var number: Int
    public var text: String

    public init(number: Int, text: String) {
        self.number = number
        self.text = text
    }
}

/// One finding: its kind, the lines involved (earlier first) and a sentence.
public struct CheckFinding: Sendable, Equatable, Encodable {
    public var kind: CheckFindingKind
    public var proved: Bool { kind.proved }
    /// For `overlap` and `backwards`: how the later line meets the earlier one.
    public var shape: AddressOrder.Shape?
    public var lines: [NumberedLine]
    public var detail: String

    public init(kind: CheckFindingKind, shape: AddressOrder.Shape? = nil, lines: [NumberedLine], detail: String) {
        self.kind = kind
        self.shape = shape
        self.lines = lines
        self.detail = detail
    }

    /// The line the finding is about (the later one).
    public var line: Int { lines.last?.number ?? 0 }

    enum CodingKeys: String, CodingKey {
        case kind, proved, shape, lines, detail
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(proved, forKey: .proved)
        try container.encode(shape, forKey: .shape)
        try container.encode(lines, forKey: .lines)
        try container.encode(detail, forKey: .detail)
    }
}

/// The verdict on one text.
public enum CheckVerdict: String, Sendable, Equatable, Encodable, Comparable {
    /// No finding.
    case noEvidence = "no evidence"
    /// Suspicious findings only.
    case suspicious
    /// At least one impossibility: the text never existed as one snapshot.
    case torn

    public static func < (lhs: CheckVerdict, rhs: CheckVerdict) -> Bool {
        let order: [CheckVerdict] = [.noEvidence, .suspicious, .torn]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// Everything `check` found in one input.
public struct MapsCheckResult: Sendable, Equatable {
    public var format: CheckFormat
    /// Lines in the maps text (for a minidump: in its maps stream), the
    /// smaps field lines included.
    public var lines = 0
    /// Mappings the text lists (maps lines, smaps headers, procstat rows).
    public var mappings = 0
    /// Bytes of the maps text.
    public var bytes: UInt64 = 0
    /// Findings by kind, all of them.
    public var impossibilities = 0
    public var suspicious = 0
    /// The findings in text order, the first `CheckLimits.listedFindings` of them.
    public var findings: [CheckFinding] = []
    /// Findings beyond those listed.
    public var findingsOmitted = 0
    /// For a minidump: where its maps stream lies.
    public var minidumpStream: MinidumpStreamLocation?

    public init(format: CheckFormat) {
        self.format = format
    }

    public var verdict: CheckVerdict {
        impossibilities > 0 ? .torn : suspicious > 0 ? .suspicious : .noEvidence
    }
}

/// The input formats `check` reads.
public enum CheckFormat: String, Sendable, Equatable, CaseIterable, Encodable {
    /// Linux `/proc/PID/maps`.
    case linux
    /// Linux `/proc/PID/smaps`: the mapping header lines are checked, the
    /// `Field: value` lines under them skipped.
    case smaps
    /// FreeBSD `procstat vm`.
    case freebsd
    /// A Breakpad or Crashpad minidump: its Linux maps stream
    /// (MD_LINUX_MAPS, 0x47670009), the maps text the crash reporter read.
    case minidump
}
