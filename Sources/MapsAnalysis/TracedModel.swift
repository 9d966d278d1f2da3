import MapsTrace

/// The version-2 records of a traced recording (`record -- CMD`) that
/// analysis uses: the mutations of the address space the snapshots are
/// judged against become the model's mutations.
struct TracedRecordings {
    var processes: [TracedProcess] = []
    var sources: [Int: SnapshotSource] = [:]
    /// Every traced address space's mutations and quiescent texts, for the
    /// whole-address-space model (AddressSpaces.swift).
    var spaces = TracedSpaces()

    /// Keeps `record`; for a traced syscall of the header's mutator (the
    /// modeled address space: `mutatorPID`, in the generation the
    /// `target_generation` workload parameter names) that the model knows
    /// (mprotect, pkey_mprotect, mmap, munmap, mremap), the mutation record
    /// it stands for. Everything else the tracer logged (brk, madvise, mlock,
    /// prctl names, other processes) is not modeled: lines it changes
    /// outside the arena are unmodeled.
    mutating func add(_ record: TracedRecord, header: TraceHeader, sequence: Int) -> MutationRecord? {
        switch record {
        case .process(let process): processes.append(process)
        case .snapshotSource(let source): sources[Int(source.snapshot)] = source
        case .syscall(let call):
            spaces.add(call)
            return Self.mutation(call, header: header, sequence: sequence)
        case .fileIdentity(let identity): spaces.add(identity)
        case .addressSpaceMaps(let maps): spaces.add(maps)
        case .sharedMemoryAttach(let attach): spaces.add(attach)
        case .anonymousName(let name): spaces.add(name)
        case .exec, .fork, .procmapQuery: break
        }
        return nil
    }

    static func mutation(_ call: TracedSyscall, header: TraceHeader, sequence: Int) -> MutationRecord? {
        guard let kind = TracedMutationKinds.modeled[call.name], call.pid == header.mutatorPID,
            call.generation == (header.workloadParameters[parameter: "target_generation"].flatMap { UInt32($0) } ?? 0)
        else { return nil }
        var record = MutationRecord(
            sequence: UInt64(sequence), kind: kind, address: call.argument(0), length: call.argument(1),
            result: call.result, errno: call.errno, tBegin: call.tBegin, tEnd: call.tEnd, threadID: call.tid)
        switch kind {
        case .mprotect:
            record.prot = Int32(truncatingIfNeeded: call.argument(2))
        case .mmap:
            record.prot = Int32(truncatingIfNeeded: call.argument(2))
            record.flags = Int32(truncatingIfNeeded: call.argument(3))
        case .munmap:
            break
        case .mremap:
            record.newLength = call.argument(2)
            record.flags = Int32(truncatingIfNeeded: call.argument(3))
            record.newAddress = call.argument(4)
        }
        return record
    }
}

/// Which traced syscalls the ground truth models, by name.
enum TracedMutationKinds {
    static let modeled: [String: MutationKind] = [
        "mprotect": .mprotect, "pkey_mprotect": .mprotect, "mmap": .mmap, "munmap": .munmap, "mremap": .mremap,
    ]
}
