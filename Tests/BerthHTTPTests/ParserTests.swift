import BerthHTTP
import Testing

@Suite struct HTTP1ResponseParserTests {
    static let chunked = bytes(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
            + "5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n")
    static let fixed = bytes("HTTP/1.1 201 Created\r\nContent-Length: 11\r\nServer: test\r\n\r\nhello world")

    @Test func chunkedResponseSplitAnywhere() throws {
        for chunks in splits(Self.chunked) {
            let parsed = try parse(chunks)
            #expect(parsed.head?.status == 200)
            #expect(parsed.head?.headers["x-a"] == "1, 2")
            #expect(parsed.head?.headers["content-type"] == "text/plain")
            #expect(parsed.body == bytes("hello, world"))
            #expect(parsed.ended && parsed.reusable && parsed.heads == 1)
            #expect(parsed.trailers == ["x-checksum": "abc"])
        }
    }

    @Test func contentLengthResponseSplitAnywhere() throws {
        for chunks in splits(Self.fixed) {
            let parsed = try parse(chunks)
            #expect(parsed.head == HTTP1ResponseHead(status: 201, reason: "Created", headers: ["content-length": "11", "server": "test"]))
            #expect(parsed.body == bytes("hello world"))
            #expect(parsed.ended && parsed.reusable)
        }
    }

    @Test func threeWaySplitsOfChunkedResponse() throws {
        let input = Self.chunked
        for first in stride(from: 0, through: input.count, by: 3) {
            for second in first...input.count {
                let parsed = try parse([Array(input[..<first]), Array(input[first..<second]), Array(input[second...])])
                #expect(parsed.body == bytes("hello, world") && parsed.ended)
            }
        }
    }

    @Test func continueThenOK() throws {
        let input = bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        for chunks in splits(input) {
            let parsed = try parse(chunks)
            #expect(parsed.heads == 1 && parsed.head?.status == 200 && parsed.head?.headers["x"] == nil)
            #expect(parsed.body == bytes("ok") && parsed.ended)
        }
    }

    @Test func noContentAndNotModifiedHaveNoBody() throws {
        for status in ["204 No Content", "304 Not Modified"] {
            let parsed = try parse([bytes("HTTP/1.1 \(status)\r\nContent-Length: 10\r\n\r\n")])
            #expect(parsed.ended && parsed.body.isEmpty && parsed.reusable)
        }
    }

    @Test func headResponseHasNoBody() throws {
        let parsed = try parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")], method: "HEAD")
        #expect(parsed.ended && parsed.body.isEmpty && parsed.reusable)
        #expect(parsed.head?.headers["content-length"] == "1234")
    }

    @Test func closeDelimitedBody() throws {
        for chunks in splits(bytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")) {
            let open = try parse(chunks)
            #expect(!open.ended && open.body == bytes("until the end"))
            let closed = try parse(chunks, eof: true)
            #expect(closed.ended && closed.body == bytes("until the end") && !closed.reusable)
        }
    }

    @Test func connectionReuseRules() throws {
        #expect(try !parse([bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")]).reusable)
        #expect(try !parse([bytes("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")]).reusable)
        #expect(try parse([bytes("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")]).reusable)
        #expect(try parse([bytes("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")]).reusable)
        // Stray bytes after the response: complete, but the connection is not trusted again.
        #expect(try !parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra")]).reusable)
        // Chunked and Content-Length together: chunked wins, connection not reused.
        let both = try parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")])
        #expect(both.body == bytes("a") && both.ended && !both.reusable)
    }

    @Test func lenientLineEndingsAndFolding() throws {
        let parsed = try parse([bytes("HTTP/1.1 200\nX-Long: a\n  b\nContent-Length: 1\n\nz")])
        #expect(parsed.head?.reason == "" && parsed.head?.headers["x-long"] == "a b" && parsed.body == bytes("z"))
    }

    @Test(arguments: [
        ("HTTP/2 200 OK\r\n\r\n", HTTPParseError.Kind.malformedStatusLine),
        ("HTTP/1.1 20 OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 abc OK\r\n\r\n", .malformedStatusLine),
        ("garbage\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 099 Low\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\n folded first\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .malformedChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", .malformedChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", .malformedChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", .malformedChunk),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\n", .unsupported),
    ])
    func malformedInputs(input: String, kind: HTTPParseError.Kind) {
        for chunks in splits(bytes(input)) {
            #expect(throws: HTTPParseError.self) { try parse(chunks, eof: true) }
            do {
                _ = try parse(chunks, eof: true)
            } catch {
                #expect(error.kind == kind, "\(error.message)")
            }
        }
    }

    @Test func oversizeHeadAndChunkLine() {
        let bigHead = bytes("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 70_000) + "\r\n\r\n")
        #expect { try parse([bigHead]) } throws: { ($0 as? HTTPParseError)?.kind == .headTooLarge }
        #expect { try parse(bigHead.map { [$0] }) } throws: { ($0 as? HTTPParseError)?.kind == .headTooLarge }
        let bigChunkLine = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "x", count: 2000))
        #expect { try parse([bigChunkLine]) } throws: { ($0 as? HTTPParseError)?.kind == .chunkLineTooLarge }
        let bigTrailers = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + String(repeating: "t", count: 70_000))
        #expect { try parse([bigTrailers]) } throws: { ($0 as? HTTPParseError)?.kind == .headTooLarge }
    }

    @Test func endOfFileInsideAResponse() {
        let cases = [
            "",
            "HTTP/1.1 200 OK\r\nContent-Le",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        ]
        for input in cases {
            #expect("eof in \(input.debugDescription)") { try parse([bytes(input)], eof: true) } throws: {
                ($0 as? HTTPParseError)?.kind == .unexpectedEOF
            }
        }
    }

    @Test func errorsAreSticky() throws {
        var parser = HTTP1ResponseParser(requestMethod: "GET")
        #expect(throws: HTTPParseError.self) { try parser.feed(bytes("nonsense\r\n")) }
        #expect(throws: HTTPParseError.self) { try parser.feed(bytes("HTTP/1.1 200 OK\r\n\r\n")) }
        #expect(throws: HTTPParseError.self) { try parser.finish() }
    }
}
