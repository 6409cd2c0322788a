/// Parsing of head lines: the status line and `name: value` fields.
enum HTTP1HeadLines {
    /// `(minor version, status, reason)` from `HTTP/1.x NNN reason`.
    static func statusLine(_ line: [UInt8]) throws(HTTPParseError) -> (Int, Int, String) {
        let prefix = Array("HTTP/1.".utf8)
        func fail() -> HTTPParseError {
            HTTPParseError(.malformedStatusLine, "malformed status line \(String(reflecting: String(decoding: line.prefix(80), as: UTF8.self)))")
        }
        guard line.count >= 12, Array(line[0..<7]) == prefix, isDigit(line[7]), line[8] == 0x20 else { throw fail() }
        let digits = line[9..<12]
        guard digits.allSatisfy(isDigit), line.count == 12 || line[12] == 0x20 else { throw fail() }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 100 else { throw fail() }
        guard !line.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else { throw fail() }
        let reason = line.count > 13 ? String(decoding: line[13...], as: UTF8.self) : ""
        return (Int(line[7] - 0x30), status, reason)
    }

    /// Adds the field on `line` to `fields` (lower-cased name, repeated names joined with
    /// `", "`); a line starting with whitespace continues the field named `last`.
    static func field(
        _ line: [UInt8], into fields: inout [String: String], last: inout String?
    ) throws(HTTPParseError) {
        let text = String(decoding: line.prefix(80), as: UTF8.self)
        guard !line.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else {
            throw HTTPParseError(.malformedHeader, "control character in header line \(String(reflecting: text))")
        }
        if line.first == 0x20 || line.first == 0x09 {
            guard let name = last, let value = fields[name] else {
                throw HTTPParseError(.malformedHeader, "continuation line without a header: \(String(reflecting: text))")
            }
            fields[name] = value + " " + String(decoding: line, as: UTF8.self).trimmingOWS()
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              line[..<colon].allSatisfy(HTTP1RequestWriter.isTokenByte)
        else {
            throw HTTPParseError(.malformedHeader, "malformed header line \(String(reflecting: text))")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingOWS()
        if let existing = fields[name] {
            fields[name] = existing + ", " + value
        } else {
            fields[name] = value
        }
        last = name
    }

    /// The length in a `Content-Length` value (repeated identical values allowed).
    static func contentLength(_ value: String) throws(HTTPParseError) -> Int {
        var result: Int?
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let digits = part.trimmingOWS()
            guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy(isDigit),
                  let length = Int(digits), result == nil || result == length
            else {
                throw HTTPParseError(.invalidContentLength, "invalid Content-Length \(String(reflecting: String(value.prefix(80))))")
            }
            result = length
        }
        guard let result else { throw HTTPParseError(.invalidContentLength, "empty Content-Length") }
        return result
    }

    /// The size on a chunk-size line (`1a;ext=1`).
    static func chunkSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        let sizePart = line.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let hex = String(decoding: sizePart, as: UTF8.self).trimmingOWS()
        guard !hex.isEmpty, hex.utf8.count <= 15, let size = Int(hex, radix: 16), hex.utf8.allSatisfy(isHexDigit) else {
            throw HTTPParseError(.malformedChunk, "malformed chunk size line \(String(reflecting: String(decoding: line.prefix(80), as: UTF8.self)))")
        }
        return size
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
}
