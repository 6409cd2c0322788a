/// Writes a tar archive (POSIX ustar) into memory: what the Docker plugin sends to
/// `PUT /containers/{id}/archive` to place input files in a container before it starts.
///
/// Paths longer than ustar's name field are split into its prefix and name fields; a path that
/// cannot be split (a name part over 100 bytes, or more than 255 bytes in all) is refused.
public struct TarWriter: Sendable {
    /// The archive so far (without the end-of-archive blocks; see ``finish()``).
    public private(set) var bytes: [UInt8] = []
    private var directories: Set<String> = []

    /// An empty archive.
    public init() {}

    /// Adds a regular file at `path` (relative, `/`-separated, no `..`), with its parent
    /// folders (mode 0755) when they are not in the archive yet.
    /// - Throws: ``TarError`` for a path ustar cannot hold or that leaves the archive's root.
    public mutating func addFile(path: String, contents: [UInt8], mode: UInt32 = 0o644, modified: Int = 0) throws(TarError) {
        let parts = try Self.components(path)
        var folder = ""
        for part in parts.dropLast() {
            folder += part + "/"
            if directories.insert(folder).inserted {
                try appendHeader(name: folder, size: 0, mode: 0o755, type: UInt8(ascii: "5"), modified: modified)
            }
        }
        try appendHeader(name: parts.joined(separator: "/"), size: contents.count, mode: mode, type: UInt8(ascii: "0"), modified: modified)
        bytes += contents
        bytes += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }

    /// The finished archive: everything added, then two zero blocks.
    public func finish() -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: 1024)
    }

    /// The parts of a relative path, checked.
    static func components(_ path: String) throws(TarError) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty, !path.hasPrefix("/") else { throw TarError("a path in an archive must be relative and not empty: '\(path)'") }
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else { throw TarError("a path in an archive must not hold '.' or '..': '\(path)'") }
        guard !path.utf8.contains(0) else { throw TarError("a path in an archive must not hold NUL") }
        return parts
    }

    private mutating func appendHeader(name: String, size: Int, mode: UInt32, type: UInt8, modified: Int) throws(TarError) {
        var header = [UInt8](repeating: 0, count: 512)
        let (prefix, rest) = try Self.split(name)
        put(rest, at: 0, width: 100, into: &header)
        putOctal(Int(mode), at: 100, width: 8, into: &header)
        putOctal(0, at: 108, width: 8, into: &header)  // uid
        putOctal(0, at: 116, width: 8, into: &header)  // gid
        putOctal(size, at: 124, width: 12, into: &header)
        putOctal(modified, at: 136, width: 12, into: &header)
        header[156] = type
        put("ustar", at: 257, width: 6, into: &header)
        put("00", at: 263, width: 2, into: &header)
        put(prefix, at: 345, width: 155, into: &header)
        // The checksum is computed with its own field as spaces.
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        putOctal(sum, at: 148, width: 7, into: &header)
        header[155] = UInt8(ascii: " ")
        bytes += header
    }

    /// ustar's (prefix, name) for a path: the name field holds 100 bytes, the prefix 155.
    static func split(_ path: String) throws(TarError) -> (prefix: String, name: String) {
        let utf8 = Array(path.utf8)
        if utf8.count <= 100 { return ("", path) }
        // Split at a '/' so that the name part fits in 100 bytes and the prefix in 155.
        let trailingSlash = utf8.last == UInt8(ascii: "/")
        let body = trailingSlash ? Array(utf8.dropLast()) : utf8
        for index in body.indices.reversed() where body[index] == UInt8(ascii: "/") {
            let prefix = Array(body[..<index])
            let name = Array(body[(index + 1)...]) + (trailingSlash ? [UInt8(ascii: "/")] : [])
            if prefix.count <= 155, name.count <= 100 {
                return (String(decoding: prefix, as: UTF8.self), String(decoding: name, as: UTF8.self))
            }
        }
        throw TarError("the path '\(path)' is too long for a tar archive (ustar: 100-byte names, 255 bytes in all)")
    }

    private func put(_ text: String, at offset: Int, width: Int, into header: inout [UInt8]) {
        for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
    }

    private func putOctal(_ value: Int, at offset: Int, width: Int, into header: inout [UInt8]) {
        let digits = String(value, radix: 8)
        let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
        put(padded, at: offset, width: width - 1, into: &header)
    }
}

/// A tar archive could not be written or read; the message says why.
public struct TarError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
