import BerthHTTP
import BerthPluginKit

/// The server end of a socket pair: reads request heads (requests in these tests have no
/// body) and answers each with what `respond` returns; nil closes the connection.
struct FakeServer {
    let stream: UnixSocketByteStream

    /// Serves requests until `respond` returns nil or the client goes away.
    func serve(_ respond: @Sendable (_ index: Int, _ head: String) async -> [[UInt8]]?) async {
        var buffer: [UInt8] = []
        var index = 0
        while true {
            while !buffer.contains(subsequence: Array("\r\n\r\n".utf8)) {
                guard let chunk = try? await stream.read() else {
                    await stream.close()
                    return
                }
                buffer += chunk
            }
            let end = (0...(buffer.count - 4)).first { buffer[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }!
            let head = String(decoding: buffer[..<end], as: UTF8.self)
            buffer = Array(buffer[(end + 4)...])
            guard let parts = await respond(index, head) else {
                await stream.close()
                return
            }
            index += 1
            for part in parts {
                do { try await stream.write(part) } catch { return }
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in the array.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

/// `status` with a Content-Length body.
func okResponse(_ body: String, extraHeaders: String = "") -> [UInt8] {
    bytes("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)")
}
