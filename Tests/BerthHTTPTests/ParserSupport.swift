import BerthHTTP

/// What a parser made of a whole input.
struct Parsed: Equatable {
    var head: HTTP1ResponseHead?
    var body: [UInt8] = []
    var ended = false
    var heads = 0
    var trailers: [String: String] = [:]
    var reusable = false
}

/// Feeds `chunks` to a parser for `method` and, with `eof`, ends the connection.
func parse(_ chunks: [[UInt8]], method: String = "GET", eof: Bool = false) throws(HTTPParseError) -> Parsed {
    var parser = HTTP1ResponseParser(requestMethod: method)
    var parsed = Parsed()
    func apply(_ events: [HTTP1ResponseEvent]) {
        for event in events {
            switch event {
            case .head(let head): parsed.head = head; parsed.heads += 1
            case .body(let bytes): parsed.body += bytes
            case .end: parsed.ended = true
            }
        }
    }
    for chunk in chunks { apply(try parser.feed(chunk)) }
    if eof { apply(try parser.finish()) }
    parsed.trailers = parser.trailers
    parsed.reusable = parser.canReuseConnection
    return parsed
}

/// `text` as bytes.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Every way to cut `input` in two, plus byte at a time.
func splits(_ input: [UInt8]) -> [[[UInt8]]] {
    var result = (0...input.count).map { [Array(input[..<$0]), Array(input[$0...])] }
    result.append(input.map { [$0] })
    return result
}
