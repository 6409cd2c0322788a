/// A request's query, decoded as Go's `url.ParseQuery` does (`%XX` escapes, `+` is a space),
/// with readers that refuse bad values as the API server does (400 naming the parameter).
struct QueryParameters: Sendable {
    private var values: [String: [String]] = [:]

    /// The parameters of `query` (the part after `?`).
    init(_ query: String?) {
        guard let query else { return }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            values[key, default: []].append(parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// The first value of `key`.
    subscript(_ key: String) -> String? { values[key]?.first }

    /// `key` as a boolean (`true`, `1`, `false`, `0`, as Go's `strconv.ParseBool`).
    func bool(_ key: String) throws(APIStatus) -> Bool? {
        guard let text = self[key] else { return nil }
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "", "0", "f", "F", "false", "FALSE", "False": return false
        default: throw APIStatus.badRequest("invalid value for \(key): strconv.ParseBool: parsing \"\(text)\": invalid syntax")
        }
    }

    /// `key` as an integer.
    func int(_ key: String) throws(APIStatus) -> Int? {
        guard let text = self[key], !text.isEmpty else { return nil }
        guard let value = Int(text) else {
            throw APIStatus.badRequest("invalid value for \(key): strconv.ParseInt: parsing \"\(text)\": invalid syntax")
        }
        return value
    }

    /// Decodes `%XX` escapes and `+`.
    static func decode(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
