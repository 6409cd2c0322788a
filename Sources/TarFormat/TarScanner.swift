/// Reads a tar archive as it streams by, in chunks of any size, and hands out each entry's
/// header and, for the entries asked for, their contents: how the supervisor finds
/// `result.json` among an execution's collected outputs without holding the archive in memory.
///
/// It understands ustar (with its prefix field), PAX extended headers (`path`, `size`) and
/// GNU long names, which is what Docker's archive endpoint writes.
public struct TarScanner: Sendable {
    /// One entry of the archive.
    public struct Entry: Sendable, Hashable {
        /// Its path as written in the archive (`out/result.json`).
        public var path: String
        /// Its size in bytes.
        public var size: Int
        /// Whether it is a regular file.
        public var isFile: Bool
        /// Its contents, when it is a file that was asked for and not larger than the limit.
        public var contents: [UInt8]?
    }

    private enum Phase: Sendable {
        case header
        case data(remaining: Int, padding: Int)
        case padding(Int)
        case ended
    }

    private let wanted: @Sendable (String) -> Bool
    private let maxContents: Int
    private var phase = Phase.header
    private var pending: [UInt8] = []
    private var current: Entry?
    private var collecting: [UInt8]?
    private var extendedPath: String?
    private var extendedSize: Int?
    private var metaType: UInt8?
    private var meta: [UInt8] = []
    private var zeroBlocks = 0

    /// A scanner that keeps the contents of files for which `wanted` says yes and that are at
    /// most `maxContents` bytes.
    public init(maxContents: Int, wanted: @escaping @Sendable (String) -> Bool) {
        self.maxContents = maxContents
        self.wanted = wanted
    }

    /// Whether the end-of-archive marker was seen.
    public var isFinished: Bool {
        if case .ended = phase { return true }
        return false
    }

    /// Reads `bytes`, the next part of the archive; returns the entries they complete.
    /// - Throws: ``TarError`` for a header that is not tar.
    public mutating func feed(_ bytes: [UInt8]) throws(TarError) -> [Entry] {
        var entries: [Entry] = []
        var index = 0
        while index < bytes.count {
            switch phase {
            case .ended:
                return entries
            case .header:
                let take = min(512 - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == 512 {
                    let block = pending
                    pending.removeAll(keepingCapacity: true)
                    if let entry = try header(block) { entries.append(entry) }
                }
            case .data(let remaining, let padding):
                let take = min(remaining, bytes.count - index)
                let slice = bytes[index..<(index + take)]
                if metaType != nil { meta += slice } else if collecting != nil { collecting! += slice }
                index += take
                if take == remaining {
                    if let entry = finishData() { entries.append(entry) }
                    phase = padding > 0 ? .padding(padding) : .header
                } else {
                    phase = .data(remaining: remaining - take, padding: padding)
                }
            case .padding(let remaining):
                let take = min(remaining, bytes.count - index)
                index += take
                phase = take == remaining ? .header : .padding(remaining - take)
            }
        }
        return entries
    }

    /// Handles a header block; returns an entry that has no data (a folder, an empty file).
    private mutating func header(_ block: [UInt8]) throws(TarError) -> Entry? {
        if block.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 { phase = .ended }
            return nil
        }
        zeroBlocks = 0
        guard Self.checksumMatches(block) else { throw TarError("not a tar archive (a header's checksum does not match)") }
        let type = block[156]
        let size = try Self.number(block[124..<136])
        let padding = (512 - size % 512) % 512
        if type == UInt8(ascii: "x") || type == UInt8(ascii: "L") || type == UInt8(ascii: "g") {
            metaType = type
            meta.removeAll()
            phase = size > 0 ? .data(remaining: size, padding: padding) : .header
            if size == 0 { metaType = nil }
            return nil
        }
        var path = Self.text(block[0..<100])
        let prefix = Self.text(block[345..<500])
        if block[257..<262].elementsEqual("ustar".utf8), !prefix.isEmpty { path = prefix + "/" + path }
        if let extendedPath { path = extendedPath }
        let entrySize = extendedSize ?? size
        extendedPath = nil
        extendedSize = nil
        let isFile = type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7")
        current = Entry(path: path, size: entrySize, isFile: isFile, contents: nil)
        collecting = isFile && entrySize <= maxContents && wanted(path) ? [] : nil
        if entrySize == 0 {
            phase = .header
            return finishData()
        }
        let dataPadding = (512 - entrySize % 512) % 512
        phase = .data(remaining: entrySize, padding: dataPadding)
        return nil
    }

    /// The data of the current header is read: a metadata record is applied, an entry returned.
    private mutating func finishData() -> Entry? {
        if let type = metaType {
            metaType = nil
            switch type {
            case UInt8(ascii: "L"):
                extendedPath = Self.text(meta[...])
            case UInt8(ascii: "x"):
                applyPAX(meta)
            default:
                break  // global PAX headers: nothing Berth needs
            }
            return nil
        }
        guard var entry = current else { return nil }
        entry.contents = collecting
        current = nil
        collecting = nil
        return entry
    }

    /// PAX records: `<length> <key>=<value>\n`.
    private mutating func applyPAX(_ records: [UInt8]) {
        var index = 0
        while index < records.count {
            guard let space = records[index...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: records[index..<space], as: UTF8.self)), length > 0,
                  index + length <= records.count
            else { return }
            let record = records[(space + 1)..<(index + length)].dropLast()  // the newline
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[..<equals], as: UTF8.self)
                let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
                if key == "path" { extendedPath = value }
                if key == "size", let size = Int(value) { extendedSize = size }
            }
            index += length
        }
    }

    private static func text(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field, or GNU's base-256 form (high bit set).
    private static func number(_ field: ArraySlice<UInt8>) throws(TarError) -> Int {
        if let first = field.first, first & 0x80 != 0 {
            var value = Int(first & 0x7F)
            for byte in field.dropFirst() {
                guard value < Int.max >> 8 else { throw TarError("a tar size field is out of range") }
                value = value << 8 | Int(byte)
            }
            return value
        }
        let digits = field.prefix { $0 != 0 && $0 != UInt8(ascii: " ") }.drop { $0 == UInt8(ascii: " ") }
        guard !digits.isEmpty else { return 0 }
        guard let value = Int(String(decoding: digits, as: UTF8.self), radix: 8) else {
            throw TarError("a tar number field is not octal")
        }
        return value
    }

    private static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard let stored = try? number(block[148..<156]) else { return false }
        var sum = 0
        for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 32 : Int(byte) }
        return sum == stored
    }
}
