import BerthClient
import BerthHTTP
import BerthPluginKit
import BerthTestSupport
import Testing

/// A transport that answers from a table and records the requests.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    var endpointDescription: String { "scripted" }
    let answer: @Sendable (HTTPRequest) -> Result<HTTPResponse, PluginError>
    let chunks: [[UInt8]]

    init(chunks: [[UInt8]] = [], answer: @escaping @Sendable (HTTPRequest) -> Result<HTTPResponse, PluginError>) {
        self.answer = answer
        self.chunks = chunks
    }

    func send(_ request: HTTPRequest) async throws(PluginError) -> HTTPResponse {
        try answer(request).get()
    }

    func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        switch answer(request) {
        case .success(let response):
            continuation.yield(.head(status: response.status, headers: response.headers))
            if response.status == 200 {
                for chunk in chunks { continuation.yield(.body(chunk)) }
            } else {
                continuation.yield(.body(response.body))
            }
            continuation.finish()
        case .failure(let error):
            continuation.finish(throwing: error)
        }
        return stream
    }
}

@Suite("BerthClient")
struct ClientTests {
    static let execution: JSONValue = [
        "id": "6f1c2a9e-1111-4222-8333-444455556666", "name": nil, "image": "busybox", "state": "failed",
        "exit_code": 3, "error": nil, "target_host": "local", "host": "local", "attempts": 1,
        "created_at": "2026-01-01T00:00:00Z", "started_at": "2026-01-01T00:00:01Z", "finished_at": "2026-01-01T00:01:31.5Z",
    ]

    @Test func submitSendsTheBodyAndKey() async throws {
        let transport = ScriptedTransport { request in
            guard request.method == "POST", request.path == "/v1/executions",
                  request.headers["Idempotency-Key"] == "k1", request.headers["Content-Type"] == "application/json",
                  let body = request.body, (try? JSONValue(parsing: body))?["image"] == "busybox"
            else { return .success(HTTPResponse(status: 400)) }
            return .success(HTTPResponse(status: 201, body: Self.execution.serialized()))
        }
        let client = BerthClient(baseURL: "http://x/", transport: transport)
        #expect(client.baseURL == "http://x")
        let execution = try await client.submit(["image": "busybox"], idempotencyKey: "k1")
        #expect(execution.id == "6f1c2a9e-1111-4222-8333-444455556666")
        #expect(execution.state == "failed")
        #expect(execution.exitCode == 3)
        #expect(execution.isTerminal)
        #expect(execution.host == "local")
        #expect(execution.attempts == 1)
        #expect(execution.finishedAt.map { $0.secondsSinceEpoch - execution.startedAt!.secondsSinceEpoch } == 90.5)
    }

    @Test func problemDetailsBecomeAPIErrors() async throws {
        let problem: JSONValue = [
            "type": "urn:berth:problem:invalid_env_name", "title": "Invalid request field", "status": 422,
            "detail": "env.1BAD: not a valid environment variable name", "code": "invalid_env_name", "field": "env.1BAD",
        ]
        let client = BerthClient(baseURL: "http://x", transport: ScriptedTransport { _ in
            .success(HTTPResponse(status: 422, headers: ["content-type": "application/problem+json"], body: problem.serialized()))
        })
        do {
            _ = try await client.submit(["image": "busybox"])
            Issue.record("no error")
        } catch {
            #expect(error == .api(APIProblem(
                status: 422, code: "invalid_env_name", title: "Invalid request field",
                detail: "env.1BAD: not a valid environment variable name", field: "env.1BAD")))
            #expect(error.description == "env.1BAD: not a valid environment variable name (invalid_env_name, field env.1BAD)")
        }
    }

    @Test func nonJSONErrorsKeepTheStatus() async throws {
        let client = BerthClient(baseURL: "http://x", transport: ScriptedTransport { _ in
            .success(HTTPResponse(status: 502, body: Array("Bad Gateway".utf8)))
        })
        do {
            _ = try await client.hosts()
            Issue.record("no error")
        } catch {
            #expect(error.problem?.status == 502)
            #expect(error.problem?.code == "http_502")
            #expect(error.description == "HTTP 502: Bad Gateway (http_502)")
        }
    }

    @Test func refusedConnectionIsUnreachable() async throws {
        let client = BerthClient(baseURL: "http://127.0.0.1:9", transport: ScriptedTransport { _ in
            .failure(PluginError(.unavailable, "cannot reach http://127.0.0.1:9: Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server"))
        })
        do {
            _ = try await client.get("x")
            Issue.record("no error")
        } catch {
            #expect(error == .unreachable(url: "http://127.0.0.1:9", message: "connection refused"))
        }
    }

    @Test func realTransportToAClosedPortIsUnreachable() async throws {
        let port = try freePort()
        let client = BerthClient(baseURL: "http://127.0.0.1:\(port)")
        do {
            _ = try await client.plugins()
            Issue.record("no error")
        } catch {
            #expect(error == .unreachable(url: "http://127.0.0.1:\(port)", message: "connection refused"))
        }
        #expect(await client.isReady() == false)
    }

    @Test func listReadsItemsAndCursorAndSendsFilters() async throws {
        let transport = ScriptedTransport { request in
            guard request.path == "/v1/executions?state=queued%2Crunning&host=gpu%20box&label=team%3Dml&limit=5&after=c1" else {
                return .success(HTTPResponse(status: 400, body: Array(request.path.utf8)))
            }
            let page: JSONValue = ["items": [Self.execution], "next": "c2"]
            return .success(HTTPResponse(status: 200, body: page.serialized()))
        }
        let client = BerthClient(baseURL: "http://x", transport: transport)
        let page = try await client.list(BerthClient.ListFilter(
            states: ["queued", "running"], host: "gpu box", labels: ["team": "ml"], limit: 5, after: "c1"))
        #expect(page.executions.map(\.image) == ["busybox"])
        #expect(page.next == "c2")
    }

    @Test func logsSplitNDJSONAcrossChunks() async throws {
        let lines = #"{"stream":"stdout","data":"hello\n","timestamp":"2026-01-01T00:00:00Z","seq":1}"# + "\n"
            + #"{"stream":"stderr","data":"oops\n","timestamp":"2026-01-01T00:00:01Z","seq":2}"# + "\n"
            + #"{"stream":"stdout","data":"end","seq":3}"#
        let bytes = Array(lines.utf8)
        let transport = ScriptedTransport(chunks: [Array(bytes[..<30]), Array(bytes[30..<100]), Array(bytes[100...])]) { request in
            guard request.path == "/v1/executions/abc/logs?follow=true&stream=stdout",
                  request.headers["Accept"] == "application/x-ndjson"
            else { return .success(HTTPResponse(status: 400)) }
            return .success(HTTPResponse(status: 200))
        }
        let client = BerthClient(baseURL: "http://x", transport: transport)
        var received: [LogLine] = []
        for try await line in client.logs("abc", follow: true, stream: .stdout) { received.append(line) }
        #expect(received.map(\.data) == ["hello\n", "oops\n", "end"])
        #expect(received.map(\.stream) == [.stdout, .stderr, .stdout])
        #expect(received.map(\.seq) == [1, 2, 3])
    }

    @Test func logsOfAnUnknownExecutionThrowTheProblem() async throws {
        let problem: JSONValue = ["status": 404, "code": "execution_not_found", "detail": "no execution has id 'abc'", "title": "Execution not found"]
        let client = BerthClient(baseURL: "http://x", transport: ScriptedTransport { _ in
            .success(HTTPResponse(status: 404, body: problem.serialized()))
        })
        do {
            for try await _ in client.logs("abc") {}
            Issue.record("no error")
        } catch let error as ClientError {
            #expect(error.problem?.code == "execution_not_found")
        }
    }

    @Test func baseURLFromTheEnvironment() {
        #expect(BerthClient.url(from: [:]) == "http://127.0.0.1:8080")
        #expect(BerthClient.url(from: ["BERTH_URL": ""]) == "http://127.0.0.1:8080")
        #expect(BerthClient.url(from: ["BERTH_URL": "http://berth:9000"]) == "http://berth:9000")
    }
}
