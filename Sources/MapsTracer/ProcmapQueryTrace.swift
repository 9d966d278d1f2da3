internal import CTracer
import MapsRecorder
import MapsSystem
import MapsTrace

#if canImport(Glibc)
import Glibc
#endif

// PROCMAP_QUERY on a followed maps descriptor (docs/recording.md,
// "PROCMAP_QUERY walks"). At the entry stop the caller's struct is copied in
// (its `size` first, then at most the 104 bytes this tracer knows); at the
// exit stop the log's data area gets, in one piece: the query as passed
// (104 bytes), the struct as the kernel wrote it back (104 bytes, only when
// the ioctl succeeded) and the name the kernel wrote (`vma_name_size` bytes,
// its NUL included, at most PATH_MAX). Nothing is allocated: the struct
// lives in the thread's state, the bytes go to the preallocated data area.
//
// A walk is a run of queries on one open file description with query flags
// exactly COVERING_OR_NEXT (0x10) that ask for the name (a name buffer): the
// first at address 0 and answered, each next one at the previous answer's
// `vma_end`. It is a snapshot (one chunk
// per query) that ends at ENOENT (end of file), at another errno (failed),
// at a query that does not continue it, or at the description's last close.
// Every other query is a single query: logged, counted, not a snapshot.

/// The size of `struct procmap_query` this tracer copies.
let procmapQueryStructSize = MemoryLayout<ProcmapQuery>.size
/// `offsetofend(struct procmap_query, query_addr)`: a shorter `size` is EINVAL.
let procmapQueryShortestSize: UInt64 = 24
/// The most name bytes copied (the kernel's PATH_MAX cap on the name).
let procmapQueryNameRoom = 4096

extension TracerLoop {
    /// At the ioctl's entry stop: copies the caller's query into `thread`
    /// (one read of 104 bytes; the `size` field says how many of them are
    /// the caller's struct, the rest are zeroed as the kernel sees them).
    func copyProcmapQuery(into thread: inout ThreadState, address: UInt64, tid: Int32) {
        thread.query = ProcmapQuery()
        thread.queryCopied = false
        let got = withUnsafeMutableBytes(of: &thread.query) { raw in
            mapsrace_read_tracee(tid, address, raw.baseAddress, procmapQueryStructSize)
        }
        let size = thread.query.size
        let counted = Int(min(size, UInt64(procmapQueryStructSize)))
        guard got >= 8, got >= counted else {
            thread.query = ProcmapQuery()
            return
        }
        if counted < procmapQueryStructSize {
            withUnsafeMutableBytes(of: &thread.query) { raw in
                (raw.baseAddress! + counted).initializeMemory(as: UInt8.self, repeating: 0, count: procmapQueryStructSize - counted)
            }
            thread.query.size = size
        }
        thread.queryCopied = true
    }

    /// At the ioctl's exit stop: stores query, answer and name in the data
    /// area (the answer and the name buffer in one process_vm_readv) and
    /// places the query in a walk (or not).
    func procmapQueryExit(_ event: inout TracerEvent, thread: ThreadState, index: Int) {
        let failed = event.errno != 0
        var query = thread.query
        guard log.dataRoom >= 2 * procmapQueryStructSize + procmapQueryNameRoom else {
            halt(.limit(.dataBytes(log.dataCapacity)))
            return
        }
        let start = log.dataEnd
        withUnsafeBytes(of: &query) { start.copyMemory(from: $0.baseAddress!, byteCount: procmapQueryStructSize) }
        var count = procmapQueryStructSize
        var answer = ProcmapQuery()
        var answered = false
        if !failed, thread.queryCopied, query.size >= procmapQueryShortestSize {
            let want = Int(min(query.size, UInt64(procmapQueryStructSize)))
            let answerArea = start + procmapQueryStructSize
            let nameArea = answerArea + procmapQueryStructSize
            answerArea.initializeMemory(as: UInt8.self, repeating: 0, count: procmapQueryStructSize)
            let nameWanted = query.vma_name_size > 0 && query.vma_name_addr != 0
                ? min(Int(query.vma_name_size), procmapQueryNameRoom) : 0
            let got = nameWanted > 0
                ? mapsrace_read_tracee_two(event.tid, thread.args.2, answerArea, want, query.vma_name_addr, nameArea, nameWanted)
                : mapsrace_read_tracee(event.tid, thread.args.2, answerArea, want)
            if got >= want {
                answered = true
                withUnsafeMutableBytes(of: &answer) { $0.copyMemory(from: UnsafeRawBufferPointer(start: answerArea, count: procmapQueryStructSize)) }
                count += procmapQueryStructSize
                if answer.vma_name_size > 0, nameWanted > 0 {
                    let length = min(Int(answer.vma_name_size), nameWanted)
                    if got - want >= length {
                        count += length
                    } else {
                        // The buffer was not readable whole: read what the kernel wrote.
                        let copied = mapsrace_read_tracee(event.tid, query.vma_name_addr, nameArea, length)
                        if copied > 0 { count += copied }
                    }
                }
            }
        }
        event.dataStart = log.commitData(count)
        event.dataCount = count
        event.queryCopied = thread.queryCopied

        var description = descriptions[index]
        // A walk asks for names: without them its lines could not be compared with maps lines.
        let walkQuery = thread.queryCopied && query.query_flags == TracedProcmapQuery.coveringOrNext
            && query.vma_name_size > 0 && query.vma_name_addr != 0
        let continues = description.walk >= 0 && walkQuery && query.query_addr == description.walkNext
        if description.walk >= 0 && !continues {
            endWalk(index, tEnd: event.tBegin)
            description = descriptions[index]
        }
        if !continues && walkQuery && query.query_addr == 0 && answered {
            description.walk = snapshotCount
            snapshotCount += 1
            description.walkChunk = 0
        }
        if description.walk >= 0 {
            event.snapshot = description.walk
            event.chunk = description.walkChunk
            description.walkChunk += 1
            if answered && answer.vma_end > query.query_addr {
                description.walkNext = answer.vma_end
            } else {
                // ENOENT (end of the walk), another errno, or an answer that
                // cannot be walked on: the snapshot ends with this chunk.
                description.walk = -1
            }
        }
        descriptions[index] = description
    }

    /// Ends the walk through description `index` without ENOENT.
    func endWalk(_ index: Int, tEnd: UInt64) {
        let description = descriptions[index]
        guard description.walk >= 0 else { return }
        var event = TracerEvent(
            kind: .syscall, pid: description.readerPID, tid: description.readerTID, generation: 0,
            number: -2, tBegin: tEnd, tEnd: tEnd)
        event.snapshot = description.walk
        event.description = Int32(index)
        logEvent(event)
        descriptions[index].walk = -1
    }
}

/// A logged PROCMAP_QUERY, taken apart again when the trace is encoded.
struct LoggedProcmapQuery {
    var query: ProcmapQuery
    var answer: ProcmapQuery?
    /// The name's bytes without the NUL.
    var name: [UInt8]

    init(_ event: TracerEvent, log: TracerLog) {
        query = ProcmapQuery()
        answer = nil
        name = []
        guard event.dataCount >= procmapQueryStructSize else { return }
        let base = log.data + event.dataStart
        withUnsafeMutableBytes(of: &query) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: procmapQueryStructSize)) }
        guard event.dataCount >= 2 * procmapQueryStructSize else { return }
        var back = ProcmapQuery()
        withUnsafeMutableBytes(of: &back) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: base + procmapQueryStructSize, count: procmapQueryStructSize))
        }
        answer = back
        let nameBytes = event.dataCount - 2 * procmapQueryStructSize
        if back.vma_name_size > 0, nameBytes > 0 {
            let raw = UnsafeRawBufferPointer(start: base + 2 * procmapQueryStructSize, count: nameBytes)
            name = Array(raw.prefix { $0 != 0 })
        }
    }

    /// The answer as the maps line the kernel prints (nil without an answer).
    var line: [UInt8]? { answer.map { ProcmapQueryLine.render($0, name: name) } }

    func record(syscall: UInt64, event: TracerEvent) -> TracedProcmapQuery {
        TracedProcmapQuery(
            syscall: syscall, snapshot: event.snapshot, errno: event.errno, queryCopied: event.queryCopied,
            size: query.size, queryFlags: query.query_flags, queryAddress: query.query_addr,
            nameBufferSize: query.vma_name_size, buildIDBufferSize: query.build_id_size,
            answer: answer.map { a in
                TracedProcmapQuery.Answer(
                    vmaStart: a.vma_start, vmaEnd: a.vma_end, vmaFlags: a.vma_flags, pageSize: a.vma_page_size,
                    offset: a.vma_offset, inode: a.inode, deviceMajor: a.dev_major, deviceMinor: a.dev_minor,
                    nameSize: a.vma_name_size, buildIDSize: a.build_id_size, name: name)
            })
    }
}
