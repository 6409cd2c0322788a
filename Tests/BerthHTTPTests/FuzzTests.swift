import BerthHTTP
import Testing

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct HTTP1ResponseParserFuzzTests {
    /// Fragments that steer random input into the parser's deeper states.
    static let fragments = [
        "HTTP/1.1 200 OK\r\n", "HTTP/1.0 204 No\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "\r\n", "\n", "\r",
        "Content-Length: 5\r\n", "Content-Length: -3\r\n", "Transfer-Encoding: chunked\r\n", "Connection: close\r\n",
        "5\r\nhello\r\n", "0\r\n\r\n", "ffffffff\r\n", ";ext=1", ": ", " ", "\0",
    ].map { Array($0.utf8) }

    @Test func randomBytesNeverCrash() {
        var random = SplitMix64(state: 0xBE27)
        var outcomes = [String: Int]()
        for _ in 0..<10_000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                if Bool.random(using: &random) {
                    input += Self.fragments.randomElement(using: &random)!
                } else {
                    input += (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
            }
            var parser = HTTP1ResponseParser(requestMethod: Bool.random(using: &random) ? "GET" : "HEAD")
            var rest = input[...]
            do {
                while !rest.isEmpty {
                    let cut = Int.random(in: 1...rest.count, using: &random)
                    _ = try parser.feed(rest.prefix(cut))
                    rest = rest.dropFirst(cut)
                }
                _ = try parser.finish()
                outcomes["ok", default: 0] += 1
            } catch {
                outcomes["\(error.kind)", default: 0] += 1
            }
        }
        #expect(outcomes.values.reduce(0, +) == 10_000)
        #expect(outcomes["ok", default: 0] > 0, "\(outcomes)")
    }
}
