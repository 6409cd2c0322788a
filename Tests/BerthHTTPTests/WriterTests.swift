import BerthHTTP
import Testing

@Suite struct HTTP1RequestWriterTests {
    @Test func getRequest() throws {
        let text = String(decoding: try HTTP1RequestWriter().serialize(HTTPRequest(method: "GET", path: "/v1.41/containers/json?all=1", headers: ["X-B": "2", "X-A": "1"])), as: UTF8.self)
        #expect(text == "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\nX-A: 1\r\nX-B: 2\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func bodyGetsLengthAndJSONType() throws {
        let request = HTTPRequest(method: "POST", path: "/x", body: bytes("{}"))
        let text = String(decoding: try HTTP1RequestWriter(host: "engine", keepAlive: false).serialize(request), as: UTF8.self)
        #expect(text == "POST /x HTTP/1.1\r\nHost: engine\r\nUser-Agent: berth\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        let tar = HTTPRequest(method: "PUT", path: "/y", headers: ["Content-Type": "application/x-tar"], body: [1, 2, 3])
        let tarText = String(decoding: try HTTP1RequestWriter().serialize(tar), as: UTF8.self)
        #expect(tarText.contains("Content-Type: application/x-tar\r\n") && !tarText.contains("application/json"))
        let empty = String(decoding: try HTTP1RequestWriter().serialize(HTTPRequest(method: "POST", path: "/start")), as: UTF8.self)
        #expect(empty.contains("Content-Length: 0\r\n"))
    }

    @Test func requestHeadersReplaceDefaults() throws {
        let request = HTTPRequest(method: "GET", path: "/", headers: ["host": "h", "Connection": "Upgrade"])
        let text = String(decoding: try HTTP1RequestWriter().serialize(request), as: UTF8.self)
        #expect(text == "GET / HTTP/1.1\r\nUser-Agent: berth\r\nConnection: Upgrade\r\nhost: h\r\n\r\n")
    }

    @Test(arguments: [
        HTTPRequest(method: "GET", path: "/", headers: ["X": "a\r\nInjected: 1"]),
        HTTPRequest(method: "GET", path: "/", headers: ["X": "a\nb"]),
        HTTPRequest(method: "GET", path: "/", headers: ["Bad Name": "a"]),
        HTTPRequest(method: "GET", path: "/", headers: ["Content-Length": "5"]),
        HTTPRequest(method: "GET", path: "/a b"),
        HTTPRequest(method: "GET", path: "/a\r\n"),
        HTTPRequest(method: "GE T", path: "/"),
        HTTPRequest(method: "", path: "/"),
    ])
    func invalidRequestsAreRejected(request: HTTPRequest) {
        #expect(throws: HTTPRequestEncodingError.self) { try HTTP1RequestWriter().serialize(request) }
    }

    @Test func invalidWriterSettingsAreRejected() {
        #expect(throws: HTTPRequestEncodingError.self) {
            try HTTP1RequestWriter(host: "docker\r\nX: y").serialize(HTTPRequest(method: "GET", path: "/"))
        }
    }
}
