/// Borrowed views of trace records, for readers that walk a whole trace and
/// must not pay for a heap allocation per record (`TraceReader.nextView()`).
///
/// Every type here is plain data: copying one never retains anything. The
/// byte buffers point into the reader's decompressed block and are valid only
/// until the reader's next call that may load a block (`nextView()`,
/// `next()`); copy what must outlive that (`ReadChunkView.record`,
/// `Array(view.bytes)`).

/// A read chunk whose `bytes` are borrowed from the reader's current block.
public struct ReadChunkView {
    public var snapshot: UInt32
    public var sequence: UInt32
    public var offset: UInt64
    public var requested: UInt64
    public var returned: Int64
    public var errno: Int32
    public var tBegin: UInt64
    public var tEnd: UInt64
    /// The bytes the read returned; valid until the reader moves on.
    public var bytes: UnsafeRawBufferPointer

    /// An owned copy, for keeping past the reader's next call.
    public var record: ReadChunk {
        ReadChunk(
            snapshot: snapshot, sequence: sequence, offset: offset, requested: requested,
            returned: returned, errno: errno, tBegin: tBegin, tEnd: tEnd, bytes: Array(bytes))
    }
}

/// A snapshot begin whose strategy name (already validated as UTF-8) is
/// borrowed from the reader's current block.
public struct SnapshotBeginView {
    public var index: UInt32
    public var tBegin: UInt64
    /// The strategy name's UTF-8 bytes; valid until the reader moves on.
    public var strategyUTF8: UnsafeRawBufferPointer

    public var strategy: String { String(decoding: strategyUTF8, as: UTF8.self) }

    /// An owned copy, for keeping past the reader's next call.
    public var record: SnapshotBegin { SnapshotBegin(index: index, tBegin: tBegin, strategy: strategy) }
}

/// One fragment of a quiescent maps text, its bytes borrowed from the
/// reader's current block. The reader has checked that fragments arrive in
/// order, agree with each other and are not interrupted: a text is complete
/// exactly when a fragment with `completesText` arrives (`QuiescentTextAssembler`
/// puts the text back together).
public struct QuiescentFragmentView {
    public var role: QuiescentRole
    public var tBegin: UInt64
    public var tEnd: UInt64
    /// Bytes of the whole text.
    public var totalLength: Int
    /// Where `bytes` go in the text.
    public var fragmentOffset: Int
    /// This fragment's part of the text; valid until the reader moves on.
    public var bytes: UnsafeRawBufferPointer

    public var startsText: Bool { fragmentOffset == 0 }
    public var completesText: Bool { fragmentOffset + bytes.count == totalLength }
}

/// One record of a trace in file order, without per-record allocation.
/// Unlike `TraceRecord`, a quiescent maps text comes as its fragments.
public enum TraceRecordView {
    /// The header record; its decoded value is `TraceReader.header`.
    case header
    case arena(ArenaRecord)
    case mutation(MutationRecord)
    case snapshotBegin(SnapshotBeginView)
    case snapshotEnd(SnapshotEnd)
    case readChunk(ReadChunkView)
    case quiescentFragment(QuiescentFragmentView)
    case pause(ReaderPause)
    case trailer(TraceTrailer)
    /// Version 2: what the ptrace tracer saw (`record -- CMD`).
    case traced(TracedRecord)
}

/// Puts quiescent maps texts back together from the fragments
/// `TraceReader.nextView()` hands out (which it has already checked for order
/// and consistency).
public struct QuiescentTextAssembler {
    private var text: [UInt8] = []

    public init() {}

    /// Adds `fragment`; returns the whole text when this fragment completes it.
    public mutating func add(_ fragment: QuiescentFragmentView) -> QuiescentMaps? {
        if fragment.startsText {
            text = []
            // Grow with the data actually present, not with what the record claims.
            text.reserveCapacity(min(fragment.totalLength, 8 << 20))
        }
        text.append(contentsOf: fragment.bytes)
        guard fragment.completesText else { return nil }
        defer { text = [] }
        return QuiescentMaps(role: fragment.role, tBegin: fragment.tBegin, tEnd: fragment.tEnd, text: text)
    }
}
