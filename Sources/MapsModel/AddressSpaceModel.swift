// The whole-address-space line model of a traced recording: the lines of
// one address space, from its initial quiescent read, with each logged
// mutation applied the way the kernel applies it to its VMAs (split at the
// range's edges, change, merge with compatible neighbours). Unlike the
// arena's per-page GroundTruth it knows file-backed lines, the brk heap and
// the flags maps does not print but merging depends on.

/// What a VMA carries that its maps line does not show, but that decides
/// whether two adjacent VMAs merge into one line.
public struct HiddenVMAFlags: Hashable, Sendable {
    /// VM_ACCOUNT: a private writable mapping, or one that has been writable.
    public var accounted = false
    /// VM_LOCKED (mlock, mlockall, MAP_LOCKED).
    public var locked = false
    /// VM_GROWSDOWN (MAP_GROWSDOWN).
    public var growsDown = false
    /// The madvise advice bits that set VMA flags (`AddressSpaceModel.madviseFlag`).
    public var advice: UInt32 = 0
    /// The protection key (pkey_mprotect).
    public var protectionKey: UInt32 = 0
    /// Which anon_vma the line's private pages belong to, as far as the
    /// syscalls tell: 0 for a mapping never seen touched (it merges with
    /// any neighbour), else one number per line of a quiescent read. Two
    /// lines of different non-zero origins never merge.
    public var origin: UInt32 = 0
    /// A private line a forked child got from its parent, taken to have
    /// pages (an anon_vma whose chain is not singular after the fork): the
    /// kernel merges it with no neighbour that has none (is_mergeable_anon_vma).
    public var inherited = false
    /// The SysV shared memory attach (one number per shmat, or per group of
    /// an initial read's `/SYSV` lines) a line belongs to, 0 for none. Lines
    /// of two attaches never merge (each attach has its own file); lines of
    /// one only as `AttachPieces` says (the kernel refuses merges that would
    /// remove a VMA whose vm_ops has `close`).
    public var attach: UInt32 = 0

    public init() {}
}

/// One line of the model: what maps prints, plus what decides merging.
public struct ModelLine: Equatable, Sendable {
    public var line: MapsLine
    public var hidden: HiddenVMAFlags
    /// The device, inode and name are not known (a MAP_SHARED anonymous
    /// mapping shows `/dev/zero (deleted)` and an inode only the kernel knows).
    public var identityUnknown = false

    public init(_ line: MapsLine, hidden: HiddenVMAFlags = HiddenVMAFlags(), identityUnknown: Bool = false) {
        self.line = line
        self.hidden = hidden
        self.identityUnknown = identityUnknown
    }

    public var start: UInt64 { line.start }
    public var end: UInt64 { line.end }

    var isAnonymous: Bool {
        line.inode == 0 && line.deviceMajor == 0 && line.deviceMinor == 0 && !identityUnknown && hidden.attach == 0
    }

    /// A MAP_SHARED|MAP_ANONYMOUS line (a shmem file the kernel counts as
    /// anonymous: vma_is_anon_shmem), named or not.
    var isAnonymousSharedMemory: Bool {
        hidden.attach == 0 && (line.path == "/dev/zero (deleted)" || line.path.hasPrefix("[anon_shmem:"))
    }
}

/// One change to an address space's lines, as the model understands it.
public enum LineMutation: Sendable, Equatable {
    /// A successful mmap at `start` (its result) of `length` bytes.
    case map(start: UInt64, length: UInt64, prot: Int32, flags: Int32, offset: UInt64, file: FileIdentity?)
    case unmap(start: UInt64, length: UInt64)
    case protect(start: UInt64, length: UInt64, prot: Int32, protectionKey: UInt32)
    /// A successful mremap that returned `result`.
    case remap(old: UInt64, oldLength: UInt64, newLength: UInt64, flags: Int32, result: UInt64)
    /// A brk call that returned `result` (the new program break, or the
    /// old one when it failed or only asked).
    case brk(requested: UInt64, result: UInt64)
    case advise(start: UInt64, length: UInt64, advice: Int32)
    case lock(start: UInt64, length: UInt64, locked: Bool)
    /// mlockall (MCL_CURRENT) / munlockall.
    case lockAll(locked: Bool, future: Bool)
    /// A successful shmat that returned `start`: a segment of `size` bytes,
    /// with the call's `flags` (SHM_RDONLY, SHM_EXEC, SHM_REMAP), shown as `file`.
    case attach(start: UInt64, size: UInt64, flags: Int32, file: FileIdentity)
    /// A successful shmdt(`address`).
    case detach(address: UInt64)
    /// prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, start, length, name) that
    /// succeeded, or failed with ENOMEM (a hole in the range) or EBADF (a
    /// file-backed line) after naming what came before: nil clears names.
    case name(start: UInt64, length: UInt64, name: String?)
}

/// The file behind a file-backed mapping, as its maps line shows it.
public struct FileIdentity: Sendable, Equatable {
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var inode: UInt64
    public var path: String

    public init(deviceMajor: UInt32, deviceMinor: UInt32, inode: UInt64, path: String) {
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.inode = inode
        self.path = path
    }
}

/// Names the kernel gives lines that no syscall of the program explains:
/// the stack grows on faults, the vDSO and vvar pages come with exec.
public enum SpecialLines {
    public static func isSpecial(_ path: String) -> Bool {
        guard path.utf8.first == UInt8(ascii: "[") else { return false }
        return path == "[stack]" || path == "[vdso]" || path == "[vsyscall]" || path.hasPrefix("[vvar") || path == "[uprobes]"
            || path.hasPrefix("[stack:")
    }
}

/// The lines of one address space, kept sorted by start.
public struct AddressSpaceModel: Sendable {
    private var lines = LineStore()
    /// Every line, by start.
    public var modelLines: [ModelLine] { lines.all }
    /// How many lines the model has.
    public var lineCount: Int { lines.count }
    /// The sums of `LineHash.exact` and `LineHash.pageLevel` over the lines.
    public var exactHash: UInt64 { lines.exactHash }
    public var pageHash: UInt64 { lines.pageHash }

    /// Keeps the sum of `kind` from now on (none: replay only).
    public mutating func keepHashes(_ kind: LineHash.Kind?) { lines.keep(kind) }
    public let pageSize: UInt64
    /// The heap's start (mm->start_brk) and the program break, when known.
    public private(set) var startBrk: UInt64?
    public private(set) var brk: UInt64?
    private var lockFuture = false
    private var nextOrigin: UInt32 = 1
    /// The size (whole pages) of each SysV shared memory attach, by number.
    private var attachSizes: [UInt32: UInt64] = [:]
    private var nextAttach: UInt32 = 1

    /// Starts from a quiescent read. Lines it shows apart that the model
    /// would join get distinct origins, so they stay apart.
    /// - Parameter forked: the read is a forked child's first (its private
    ///   writable lines came from its parent, with their pages).
    public init(initial: [MapsLine], pageSize: UInt64, forked: Bool = false) {
        self.pageSize = pageSize
        for line in initial.sorted(by: { $0.start < $1.start }) {
            var model = line
            var hidden = HiddenVMAFlags()
            hidden.accounted = line.permissions.write && !line.permissions.shared
            hidden.origin = nextOrigin
            hidden.inherited = forked && line.permissions.write && !line.permissions.shared
            nextOrigin += 1
            if line.path == "[heap]" {
                model.path = ""
                if startBrk == nil { startBrk = line.start }
                brk = line.end
            }
            if line.path.hasPrefix("/SYSV") {
                // One attach: consecutive lines of one segment at consistent offsets.
                if lines.count > 0, case let last = lines[lines.count - 1], last.hidden.attach != 0,
                   last.line.inode == line.inode, last.line.path == line.path, last.end <= line.start,
                   last.start &- last.line.offset == line.start &- line.offset
                {
                    hidden.attach = last.hidden.attach
                } else {
                    hidden.attach = nextAttach
                    nextAttach += 1
                }
                attachSizes[hidden.attach] = line.end &- (line.start &- line.offset)
            }
            lines.insert(ModelLine(model, hidden: hidden), at: lines.count)
        }
    }

    func pageAligned(_ value: UInt64) -> UInt64 { (value &+ pageSize &- 1) & ~(pageSize &- 1) }

    /// `[start, start + length rounded up to pages)`, or nil when it is
    /// empty or wraps (the kernel fails such a call; a forged trace may
    /// still log it as successful).
    func span(_ start: UInt64, _ length: UInt64) -> Range<UInt64>? {
        let (end, wrapped) = start.addingReportingOverflow(pageAligned(length))
        guard !wrapped, end > start, pageAligned(length) >= length else { return nil }
        return start..<end
    }

    /// The lines as maps would print them now (the heap named).
    public var mapsLines: [MapsLine] {
        lines.map { named($0) }
    }

    /// The lines as maps would print them now, one at a time (what
    /// `mapsLines` holds, without making that array).
    public var mapsLineSequence: MapsLineSequence { MapsLineSequence(model: self) }

    public struct MapsLineSequence: Sequence {
        let model: AddressSpaceModel

        public func makeIterator() -> Iterator { Iterator(model: model, chunks: model.lines.chunkArrays) }

        public struct Iterator: IteratorProtocol {
            let model: AddressSpaceModel
            let chunks: [[ModelLine]]
            var chunk = 0
            var position = 0

            public mutating func next() -> MapsLine? {
                while chunk < chunks.count {
                    if position < chunks[chunk].count {
                        position += 1
                        return model.named(chunks[chunk][position - 1])
                    }
                    chunk += 1
                    position = 0
                }
                return nil
            }
        }
    }

    /// The line with the name the kernel prints: an unnamed anonymous line
    /// touching [start_brk, brk) is `[heap]` (vma_is_initial_heap).
    public func named(_ model: ModelLine) -> MapsLine {
        var line = model.line
        if model.isAnonymous, line.path.isEmpty, let startBrk, let brk,
           line.start < pageAligned(brk), line.end > startBrk
        {
            line.path = "[heap]"
        }
        return line
    }

    /// Applies one mutation.
    public mutating func apply(_ mutation: LineMutation) {
        switch mutation {
        case .map(let start, let length, let prot, let flags, let offset, let file):
            let end = start &+ pageAligned(length)
            guard end > start else { return }
            remove(start..<end)
            let shared = flags & 0x03 == 0x01 || flags & 0x03 == 0x03  // MAP_SHARED, MAP_SHARED_VALIDATE
            var line = MapsLine(
                start: start, end: end, permissions: Permissions(prot: prot, shared: shared),
                offset: file == nil ? 0 : offset)
            var hidden = HiddenVMAFlags()
            let noReserve = flags & 0x4000 != 0  // MAP_NORESERVE
            hidden.accounted = prot & 2 != 0 && !shared && !noReserve
            hidden.locked = flags & 0x2000 != 0 || lockFuture  // MAP_LOCKED
            hidden.growsDown = flags & 0x0100 != 0  // MAP_GROWSDOWN
            var unknown = false
            if let file {
                line.deviceMajor = file.deviceMajor
                line.deviceMinor = file.deviceMinor
                line.inode = file.inode
                line.path = file.path
            } else if shared {
                // A shared anonymous mapping is a shmem file: `/dev/zero (deleted)`.
                line.path = "/dev/zero (deleted)"
                unknown = true
            }
            insert(ModelLine(line, hidden: hidden, identityUnknown: unknown))
        case .unmap(let start, let length):
            if let range = span(start, length) { remove(range) }
        case .protect(let start, let length, let prot, let key):
            guard let range = span(start, length) else { return }
            change(range) { model in
                model.line.permissions = Permissions(prot: prot, shared: model.line.permissions.shared)
                // mprotect_fixup: made writable, a private mapping is charged
                // (VM_ACCOUNT); made unwritable, an anonymous one with no
                // anon_vma yet (never seen touched: origin 0) is uncharged.
                if prot & 2 != 0 && !model.line.permissions.shared {
                    model.hidden.accounted = true
                } else if prot & 2 == 0 && model.isAnonymous && model.hidden.origin == 0 {
                    model.hidden.accounted = false
                }
                model.hidden.protectionKey = key
            }
        case .remap(let old, let oldLength, let newLength, let flags, let result):
            remap(old: old, oldLength: pageAligned(oldLength), newLength: pageAligned(newLength), flags: flags, result: result)
        case .brk(_, let result):
            let old = brk
            if startBrk == nil { startBrk = result }
            brk = result
            guard let old else { return }
            let oldEnd = pageAligned(old), newEnd = pageAligned(result)
            if newEnd > oldEnd {
                var hidden = HiddenVMAFlags()
                hidden.accounted = true
                hidden.locked = lockFuture
                insert(ModelLine(
                    MapsLine(start: oldEnd, end: newEnd, permissions: Permissions(prot: 3)), hidden: hidden))
            } else if newEnd < oldEnd {
                remove(newEnd..<oldEnd)
            }
        case .advise(let start, let length, let advice):
            guard let (bit, set) = Self.madviseFlag(advice) else { return }
            guard let range = span(start, length) else { return }
            change(range) { model in
                if set { model.hidden.advice |= bit } else { model.hidden.advice &= ~bit }
            }
        case .lock(let start, let length, let locked):
            guard let range = span(start, length) else { return }
            change(range) { $0.hidden.locked = locked }
        case .lockAll(let locked, let future):
            lockFuture = locked && future
            for i in 0..<lines.count { lines[i].hidden.locked = locked }
            mergeAll()
        case .attach(let start, let size, let flags, let file):
            attach(start: start, size: size, flags: flags, file: file)
        case .detach(let address):
            detach(address: address)
        case .name(let start, let length, let name):
            guard let range = span(start, length) else { return }
            applyName(range, name)
        }
    }

    /// The VMA flag an madvise advice sets or clears (and which), or nil
    /// for advice that leaves the VMAs as they are (DONTNEED, FREE, ...).
    public static func madviseFlag(_ advice: Int32) -> (UInt32, Bool)? {
        switch advice {
        case 0: (3, false)  // MADV_NORMAL clears RANDOM and SEQUENTIAL
        case 1: (1, true)  // MADV_RANDOM
        case 2: (2, true)  // MADV_SEQUENTIAL
        case 10: (1 << 2, true)  // MADV_DONTFORK
        case 11: (1 << 2, false)  // MADV_DOFORK
        case 12: (1 << 3, true)  // MADV_MERGEABLE
        case 13: (1 << 3, false)  // MADV_UNMERGEABLE
        case 14: (1 << 4, true)  // MADV_HUGEPAGE
        case 15: (1 << 4, false)  // MADV_NOHUGEPAGE
        case 16: (1 << 5, true)  // MADV_DONTDUMP
        case 17: (1 << 5, false)  // MADV_DODUMP
        case 18: (1 << 6, true)  // MADV_WIPEONFORK
        case 19: (1 << 6, false)  // MADV_KEEPONFORK
        default: nil
        }
    }

    // MARK: - SysV shared memory and anonymous names

    private mutating func attach(start: UInt64, size: UInt64, flags: Int32, file: FileIdentity) {
        guard let range = span(start, size) else { return }
        // Without SHM_REMAP the kernel fails on an occupied range; with it, it replaces.
        remove(range)
        let readOnly = flags & 0o10000 != 0  // SHM_RDONLY
        let exec = flags & 0o100000 != 0  // SHM_EXEC
        let prot: Int32 = 1 | (readOnly ? 0 : 2) | (exec ? 4 : 0)
        var line = MapsLine(start: range.lowerBound, end: range.upperBound, permissions: Permissions(prot: prot, shared: true))
        line.deviceMajor = file.deviceMajor
        line.deviceMinor = file.deviceMinor
        line.inode = file.inode
        line.path = file.path
        var hidden = HiddenVMAFlags()
        hidden.locked = lockFuture
        hidden.attach = nextAttach
        attachSizes[nextAttach] = UInt64(range.count)
        nextAttach += 1
        insert(ModelLine(line, hidden: hidden))
    }

    /// shmdt as ipc/shm.c does it: the first attach line at or above
    /// `address` whose offset matches its distance from `address` gives the
    /// attach and its size; it goes, and so does every later line of that
    /// attach with a matching offset that ends within the size.
    private mutating func detach(address: UInt64) {
        func matches(_ model: ModelLine) -> Bool {
            model.hidden.attach != 0 && model.start >= address
                && (model.start - address) / pageSize == model.line.offset / pageSize
        }
        var i = firstIndex(endingAbove: address)
        var attach: UInt32 = 0
        while i < lines.count {
            if matches(lines[i]) {
                attach = lines[i].hidden.attach
                _ = lines.remove(at: i)
                break
            }
            i += 1
        }
        guard attach != 0 else { return }
        let size = attachSizes[attach] ?? 0
        while i < lines.count, lines[i].end &- address <= size {
            if lines[i].hidden.attach == attach && matches(lines[i]) {
                _ = lines.remove(at: i)
            } else {
                i += 1
            }
        }
    }

    /// Names the anonymous lines in `range` (madvise_set_anon_name): a
    /// private one shows `[anon:NAME]`, a shared anonymous one
    /// `[anon_shmem:NAME]`; nil clears the name. Lines get split at the
    /// range's edges only when their name changes; the walk stops at the
    /// first file-backed line (the kernel fails with EBADF there); holes
    /// are skipped (ENOMEM at the end).
    private mutating func applyName(_ range: Range<UInt64>, _ name: String?) {
        var i = firstIndex(endingAbove: range.lowerBound)
        var first: Int?
        var last = 0
        while i < lines.count, lines[i].start < range.upperBound {
            let model = lines[i]
            let path: String
            if model.isAnonymousSharedMemory {
                path = name.map { "[anon_shmem:\($0)]" } ?? "/dev/zero (deleted)"
            } else if model.isAnonymous {
                if SpecialLines.isSpecial(model.line.path) {
                    // Named, but maps keeps showing [stack], [vdso], ...
                    i += 1
                    continue
                }
                path = name.map { "[anon:\($0)]" } ?? ""
            } else {
                break
            }
            if path == model.line.path {
                i += 1
                continue
            }
            if model.start < range.lowerBound {
                split(at: range.lowerBound)
                i += 1
            }
            if lines[i].end > range.upperBound { split(at: range.upperBound) }
            lines[i].line.path = path
            if first == nil { first = i }
            last = i
            i += 1
        }
        if let first { merge(around: first, count: last - first + 1) }
    }

    // MARK: - Line operations

    /// The index of the first line ending above `address`.
    private func firstIndex(endingAbove address: UInt64) -> Int {
        lines.firstIndex(endingAbove: address)
    }

    /// Splits the line containing `address` (not at its start) in two.
    private mutating func split(at address: UInt64) {
        let i = firstIndex(endingAbove: address)
        guard i < lines.count, lines[i].start < address else { return }
        var right = lines[i]
        let cut = address - right.start
        right.line.start = address
        if !right.isAnonymous { right.line.offset &+= cut }
        lines[i].line.end = address
        lines.insert(right, at: i + 1)
    }

    /// Unmaps `range`: lines inside go, lines across its edges are cut.
    private mutating func remove(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        split(at: range.lowerBound)
        split(at: range.upperBound)
        let first = firstIndex(endingAbove: range.lowerBound)
        var last = first
        while last < lines.count, lines[last].end <= range.upperBound { last += 1 }
        lines.removeSubrange(first..<last)
    }

    /// Puts a line in an empty range and merges it with its neighbours.
    private mutating func insert(_ line: ModelLine) {
        let i = firstIndex(endingAbove: line.start)
        lines.insert(line, at: i)
        merge(around: i, count: 1)
    }

    /// Changes every line part inside `range`, then merges what can merge.
    private mutating func change(_ range: Range<UInt64>, _ body: (inout ModelLine) -> Void) {
        guard !range.isEmpty else { return }
        // SysV attach lines: the pieces of one cut at the range's edges (a
        // merge there only moves a boundary), and the ones changed whole (a
        // merge would remove them, which the kernel refuses: AttachPieces).
        guard !attachSizes.isEmpty else {
            split(at: range.lowerBound)
            split(at: range.upperBound)
            let first = firstIndex(endingAbove: range.lowerBound)
            var last = first
            while last < lines.count, lines[last].start < range.upperBound {
                body(&lines[last])
                last += 1
            }
            merge(around: first, count: last - first)
            return
        }
        var pieces = AttachPieces()
        cutEdge(at: range.lowerBound, &pieces)
        cutEdge(at: range.upperBound, &pieces)
        let first = firstIndex(endingAbove: range.lowerBound)
        var last = first
        while last < lines.count, lines[last].start < range.upperBound {
            if lines[last].hidden.attach != 0, !pieces.cut.contains(lines[last].start) {
                pieces.whole.insert(lines[last].start)
            }
            body(&lines[last])
            last += 1
        }
        merge(around: first, count: last - first, pieces: pieces)
    }

    /// Splits the line across `cut`, noting both parts when it is an attach's.
    private mutating func cutEdge(at cut: UInt64, _ pieces: inout AttachPieces) {
        let i = firstIndex(endingAbove: cut)
        if i < lines.count, lines[i].start < cut, lines[i].hidden.attach != 0 {
            pieces.cut.insert(lines[i].start)
            pieces.cut.insert(cut)
        }
        split(at: cut)
    }

    /// Lines of a SysV attach have a `close` operation: the kernel merges
    /// two of them only when no VMA disappears (vma_merge_existing_range,
    /// can_merge_remove_vma), i.e. when a change cut a line at the range's
    /// edge and the cut-off part joins its neighbour. By start.
    struct AttachPieces {
        var cut: Set<UInt64> = []
        var whole: Set<UInt64> = []

        func allowMerge(_ a: ModelLine, _ b: ModelLine) -> Bool {
            (cut.contains(a.start) && !whole.contains(b.start)) || (cut.contains(b.start) && !whole.contains(a.start))
        }
    }

    /// Whether two lines of one SysV attach join after a change (`pieces`).
    func attachMergeable(_ a: ModelLine, _ b: ModelLine, _ pieces: AttachPieces) -> Bool {
        guard a.hidden.attach != 0, a.hidden.attach == b.hidden.attach, pieces.allowMerge(a, b) else { return false }
        var x = a, y = b
        x.hidden.attach = 0
        y.hidden.attach = 0
        return mergeable(x, y)
    }

    /// Whether the kernel would join `a` and the line right after it.
    func mergeable(_ a: ModelLine, _ b: ModelLine) -> Bool {
        guard a.end == b.start, a.line.permissions == b.line.permissions, !a.identityUnknown, !b.identityUnknown,
              a.hidden.attach == 0, b.hidden.attach == 0
        else { return false }
        var ha = a.hidden, hb = b.hidden
        guard ha.origin == 0 || hb.origin == 0 || ha.origin == hb.origin else { return false }
        if (ha.inherited && hb.origin == 0) || (hb.inherited && ha.origin == 0) { return false }
        ha.origin = 0
        hb.origin = 0
        ha.inherited = false
        hb.inherited = false
        guard ha == hb else { return false }
        if SpecialLines.isSpecial(a.line.path) || SpecialLines.isSpecial(b.line.path) { return false }
        if a.isAnonymous && b.isAnonymous { return a.line.path == b.line.path }
        return a.line.deviceMajor == b.line.deviceMajor && a.line.deviceMinor == b.line.deviceMinor
            && a.line.inode == b.line.inode && a.line.path == b.line.path
            && b.line.offset == a.line.offset &+ a.line.length
    }

    /// Merges lines `index ..< index + count` with each other and their neighbours.
    private mutating func merge(around index: Int, count: Int, pieces: AttachPieces? = nil) {
        var i = max(index - 1, 0)
        var stop = min(index + count, lines.count - 1)
        while i < stop {
            // (No closure here: one capturing `self` would copy the model for every pair.)
            var joins = mergeable(lines[i], lines[i + 1])
            if !joins, let pieces { joins = attachMergeable(lines[i], lines[i + 1], pieces) }
            if joins {
                let next = lines.remove(at: i + 1)
                lines[i].line.end = next.end
                if lines[i].hidden.origin == 0 { lines[i].hidden.origin = next.hidden.origin }
                stop -= 1
            } else {
                i += 1
            }
        }
    }

    private mutating func mergeAll() { merge(around: 0, count: lines.count) }

    private mutating func remap(old: UInt64, oldLength: UInt64, newLength: UInt64, flags: Int32, result: UInt64) {
        // Ranges that wrap (only a forged trace logs them as successful) change nothing.
        guard newLength > 0, old.addingReportingOverflow(max(oldLength, newLength)).overflow == false,
              result.addingReportingOverflow(newLength).overflow == false
        else { return }
        let dontUnmap = flags & 4 != 0  // MREMAP_DONTUNMAP
        if result == old && !dontUnmap {
            if newLength < oldLength {
                remove((old + newLength)..<(old + oldLength))
            } else if newLength > oldLength, oldLength > 0 {
                // Grown in place: the line ending at old + oldLength extends.
                let i = firstIndex(endingAbove: old + oldLength - 1)
                guard i < lines.count, lines[i].end == old + oldLength else { return }
                remove((old + oldLength)..<(old + newLength))
                lines[i].line.end = old + newLength
                merge(around: i, count: 1)
            }
            return
        }
        // Moved: the part [old, old + oldLength) goes to `result`, as long as newLength.
        split(at: old)
        split(at: old + oldLength)
        let first = firstIndex(endingAbove: old)
        guard first < lines.count, lines[first].start == old else { return }
        var moved = lines[first]
        if oldLength != 0 && !dontUnmap { remove(old..<(old + oldLength)) }
        remove(result..<(result + newLength))
        moved.line.start = result
        moved.line.end = result + newLength
        insert(moved)
    }
}
