// The maps text inside a Breakpad or Crashpad minidump. A minidump is a
// header, a stream directory and the streams, all little-endian:
//   header (32 bytes): signature u32 'MDMP' (0x504d444d), version u32 (low
//     16 bits 0xa793), stream count u32, directory RVA u32, checksum u32,
//     time stamp u32, flags u64
//   directory entry (12 bytes): stream type u32, data size u32, RVA u32
// Breakpad's Linux extension stream MD_LINUX_MAPS (0x47670009) holds the
// bytes of /proc/self/maps exactly as the crash reporter read them.

/// Where a minidump's maps stream lies.
public struct MinidumpStreamLocation: Sendable, Equatable, Encodable {
    public var offset: UInt64
    public var size: UInt64

    public init(offset: UInt64, size: UInt64) {
        self.offset = offset
        self.size = size
    }
}

public enum Minidump {
    public static let signature: UInt32 = 0x504d_444d
    public static let version: UInt32 = 0xa793
    public static let linuxMapsStreamType: UInt32 = 0x4767_0009
    static let headerSize = 32
    static let directoryEntrySize = 12
    /// Real minidumps hold a few dozen streams.
    public static let maxStreams: UInt32 = 4096

    /// Reads the header and the stream directory from `input` (at its
    /// start) and moves it to the first byte of the maps stream.
    public static func seekToMapsStream(in input: ByteInput, limits: CheckLimits) throws(CheckError) -> MinidumpStreamLocation {
        let start = input.position
        let header = try input.read(count: headerSize)
        guard header.count == headerSize else {
            throw .badMinidump("\(header.count) bytes, shorter than a minidump header (\(headerSize))")
        }
        let magic = littleEndian32(header, at: 0)
        guard magic == signature else {
            throw .badMinidump("the signature is 0x\(String(magic, radix: 16)), not 0x504d444d ('MDMP')")
        }
        guard littleEndian32(header, at: 4) & 0xffff == version else {
            throw .badMinidump("version 0x\(String(littleEndian32(header, at: 4) & 0xffff, radix: 16)), not 0xa793")
        }
        let streamCount = littleEndian32(header, at: 8)
        let directoryOffset = UInt64(littleEndian32(header, at: 12))
        guard streamCount <= maxStreams else {
            throw .badMinidump("the header claims \(streamCount) streams (at most \(maxStreams) accepted)")
        }
        let directorySize = UInt64(streamCount) * UInt64(directoryEntrySize)
        if let size = input.size, start + directoryOffset + directorySize > size {
            throw .badMinidump("the stream directory (\(streamCount) entries at offset \(directoryOffset)) runs past the end of the file (\(size) bytes)")
        }
        guard directoryOffset >= UInt64(headerSize) || streamCount == 0 else {
            throw .badMinidump("the stream directory (offset \(directoryOffset)) overlaps the header")
        }
        guard try input.skip(to: start + directoryOffset) else {
            throw .badMinidump("the stream directory (offset \(directoryOffset)) lies past the end of the input")
        }
        let directory = try input.read(count: Int(directorySize))
        guard directory.count == Int(directorySize) else {
            throw .badMinidump("the stream directory (\(streamCount) entries at offset \(directoryOffset)) runs past the end of the input")
        }
        var types: [UInt32] = []
        for entry in 0..<Int(streamCount) {
            let base = entry * directoryEntrySize
            let type = littleEndian32(directory, at: base)
            guard type == linuxMapsStreamType else {
                types.append(type)
                continue
            }
            let size = UInt64(littleEndian32(directory, at: base + 4))
            let offset = UInt64(littleEndian32(directory, at: base + 8))
            if let fileSize = input.size, start + offset + size > fileSize {
                throw .badMinidump("the maps stream (\(size) bytes at offset \(offset)) runs past the end of the file (\(fileSize) bytes)")
            }
            guard size <= limits.maxInputBytes else { throw .inputTooLarge(limit: limits.maxInputBytes) }
            guard try input.skip(to: start + offset) else {
                throw .badMinidump("the maps stream (offset \(offset)) lies past the end of the input")
            }
            return MinidumpStreamLocation(offset: offset, size: size)
        }
        throw .noMapsStream(streamTypes: types)
    }
}

@inline(__always)
func littleEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
