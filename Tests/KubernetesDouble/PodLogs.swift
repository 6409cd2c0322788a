import BerthHTTP
import BerthPluginKit
import DockerEngine

/// `GET .../pods/{name}/log` on a container's Docker logs, as the kubelet serves them: stdout
/// and stderr merged (or one of them with `stream=Stdout|Stderr`), each line prefixed with its
/// RFC 3339 nanosecond time when `timestamps=true`.
struct PodLogs: Sendable {
    /// `follow`: keep streaming until the container ends.
    var follow: Bool
    /// `timestamps`.
    var timestamps: Bool
    /// `sinceTime` (to the second, as the API keeps it) or `sinceSeconds` before now.
    var since: Timestamp?
    /// `tailLines`.
    var tailLines: Int?
    /// `limitBytes`.
    var limitBytes: Int?
    /// The stream `stream=Stdout|Stderr` asks for; nil: both.
    var only: LogStream?

    /// The options in `query`.
    /// - Throws: 400 for values the API server refuses.
    init(_ query: QueryParameters) throws(APIStatus) {
        follow = try query.bool("follow") ?? false
        timestamps = try query.bool("timestamps") ?? false
        if let text = query["sinceTime"] {
            guard let time = Timestamp(rfc3339: text) else {
                throw APIStatus.badRequest("parsing time \"\(text)\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\(text)\"")
            }
            since = time.truncatedToSecond
        }
        if let seconds = try query.int("sinceSeconds") {
            guard since == nil else { throw APIStatus.badRequest("at most one of sinceTime or sinceSeconds may be specified") }
            guard seconds > 0 else { throw APIStatus.badRequest("sinceSeconds: Invalid value: \(seconds): must be greater than 0") }
            since = Timestamp.now().adding(seconds: -Double(seconds))
        }
        tailLines = try query.int("tailLines")
        limitBytes = try query.int("limitBytes")
        switch query["stream"] {
        case nil, "All": only = nil
        case "Stdout": only = .stdout
        case "Stderr": only = .stderr
        case let other?:
            throw APIStatus(
                code: 422, reason: "Invalid",
                message: "PodLogOptions \"\" is invalid: stream: Unsupported value: \"\(other)\": supported values: \"All\", \"Stderr\", \"Stdout\"")
        }
    }

    /// The Docker logs query.
    private func dockerQuery() -> [(String, String)] {
        var query = [("stdout", "1"), ("stderr", "1"), ("timestamps", "1"), ("follow", follow ? "1" : "0")]
        if let since {
            let fraction = String(since.nanosecondsSinceEpoch % 1_000_000_000)
            query.append(("since", "\(since.nanosecondsSinceEpoch / 1_000_000_000).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"))
        }
        if let tailLines { query.append(("tail", String(max(0, tailLines)))) }
        return query
    }

    /// The log bytes of container `id`, in pieces as they come; ends when Docker's stream ends
    /// (at once unless following; when the container ends if following) or `limitBytes` is reached.
    func read(_ id: String, from docker: DockerClient) -> AsyncThrowingStream<[UInt8], any Error> {
        let source = docker.stream("/containers/\(id)/logs", query: dockerQuery())
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let options = self
        let pump = Task {
            var decoder = DockerLogDecoder()
            var remaining = options.limitBytes ?? Int.max
            var status = 0
            do {
                for try await part in source {
                    switch part {
                    case .head(let code, _):
                        status = code
                    case .body(let bytes):
                        guard status == 200 else { continue }
                        for chunk in try decoder.feed(bytes) where options.only == nil || options.only == chunk.stream {
                            var line = options.timestamps ? Array("\(chunk.timestamp.rfc3339) ".utf8) : []
                            line += chunk.data
                            if line.count >= remaining {
                                continuation.yield(Array(line.prefix(remaining)))
                                continuation.finish()
                                return
                            }
                            remaining -= line.count
                            continuation.yield(line)
                        }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return stream
    }
}
