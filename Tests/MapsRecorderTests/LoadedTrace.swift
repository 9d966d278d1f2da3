import MapsTrace

/// Every record of a trace, with how it ended.
struct LoadedTrace {
    var records: [TraceRecord]
    var completion: TraceCompletion

    init(path: String) throws {
        let reader = try TraceReader(path: path)
        var records: [TraceRecord] = []
        while let record = try reader.next() { records.append(record) }
        self.records = records
        completion = reader.completion
    }

    var header: TraceHeader? {
        for case .header(let header) in records { return header }
        return nil
    }
    var arena: ArenaRecord? {
        for case .arena(let arena) in records { return arena }
        return nil
    }
    var mutations: [MutationRecord] {
        records.compactMap { if case .mutation(let mutation) = $0 { mutation } else { nil } }
    }
    var chunks: [ReadChunk] {
        records.compactMap { if case .readChunk(let chunk) = $0 { chunk } else { nil } }
    }
    var snapshotEnds: [SnapshotEnd] {
        records.compactMap { if case .snapshotEnd(let end) = $0 { end } else { nil } }
    }
    func quiescent(_ role: QuiescentRole) -> QuiescentMaps? {
        for case .quiescentMaps(let maps) in records where maps.role == role { return maps }
        return nil
    }
    var trailer: TraceTrailer? {
        for case .trailer(let trailer) in records { return trailer }
        return nil
    }
}
