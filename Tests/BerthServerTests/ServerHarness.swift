import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthSecrets
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A small, real ``ExecutionControl`` for the API tests: it moves an active execution to
/// `cancelled` in the Store. The real Scheduler (which also stops running attempts) is built
/// separately; the API depends only on the protocol.
struct StoreCancellingControl: ExecutionControl {
    let store: any Store

    func cancel(_ id: UUID, reason: String) async throws(StoreError) -> Execution? {
        while true {
            guard let execution = try await store.execution(id: id) else { return nil }
            guard execution.state.canTransition(to: .cancelled) else { return execution }
            if case .won(let cancelled) = try await store.transition(id, from: execution.state, to: .cancelled, reason: reason) {
                return cancelled
            }
        }
    }
}

/// What a test gets: the client, the Store and the plugin host behind the app, and an admin
/// token that requests carry unless told otherwise.
struct Harness: Sendable {
    let client: any TestClientProtocol
    let store: PostgresStore
    let plugins: PluginHost
    let configuration: ServerConfiguration
    let adminToken: String
    /// What the app's handlers work with (the Store, plugins, control and clock).
    let context: ServerContext

    /// Who a request is sent as.
    enum Caller: Sendable {
        /// The harness's admin token.
        case admin
        /// No Authorization header.
        case anonymous
        /// This token.
        case token(String)
    }

    /// A new token with `role` acting as `owner`, made in the Store as `berth token create` would.
    func makeToken(_ role: APIRole, owner: String, expiresAt: Date? = nil) async throws -> String {
        try await Self.makeToken(store, role, owner: owner, expiresAt: expiresAt).text
    }

    static func makeToken(_ store: PostgresStore, _ role: APIRole, owner: String, expiresAt: Date? = nil) async throws -> TokenSecret {
        let secret = TokenSecret(newFor: UUID())
        _ = try await store.createToken(NewAPIToken(
            id: secret.id, name: "\(owner)-\(role.rawValue)", owner: owner, role: role, hash: secret.hash, expiresAt: expiresAt))
        return secret
    }
}

enum ServerHarness {
    /// Runs `body` against a real application on a fresh database with the Simulated plugin
    /// serving host `sim`.
    static func run(
        configuration: ServerConfiguration = ServerConfiguration(),
        setup: TestingSetup = .router,
        hosts: [TargetHostConfiguration] = [TargetHostConfiguration(name: "sim", plugin: "simulated")],
        startPlugins: Bool = true,
        control: (@Sendable (PostgresStore) -> any ExecutionControl)? = nil,
        now: @escaping @Sendable () -> Date = { Date() },
        _ body: @Sendable @escaping (Harness) async throws -> Void
    ) async throws {
        try await TestServer.withStore { store, _ in
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: hosts, serverID: "t"))
            if startPlugins { await plugins.start() }
            let context = ServerContext(
                store: store, plugins: plugins, control: control?(store) ?? StoreCancellingControl(store: store),
                sealer: try AESGCMSealer(keyBytes: (0..<32).map { _ in UInt8.random(in: 0...255) }), now: now)
            let app = try await buildApplication(configuration: configuration, context: context, logger: TestServer.logger)
            let admin = try await Harness.makeToken(store, .admin, owner: "admin")
            do {
                try await app.test(setup) { client in
                    try await body(Harness(
                        client: client, store: store, plugins: plugins, configuration: configuration, adminToken: admin.text,
                        context: context))
                }
            } catch {
                await plugins.shutdown()
                throw error
            }
            await plugins.shutdown()
        }
    }
}

extension TestResponse {
    /// The body as JSON.
    func json() throws -> JSONValue { try JSONValue(parsing: Array(body.readableBytesView)) }
    /// The body as text.
    var text: String { String(buffer: body) }
}

extension Harness {
    @discardableResult
    func request(
        _ method: HTTPRequest.Method, _ uri: String, json: JSONValue? = nil, headers: HTTPFields = [:], as caller: Caller = .admin
    ) async throws -> TestResponse {
        var headers = headers
        switch caller {
        case .admin: headers[.authorization] = "Bearer \(adminToken)"
        case .anonymous: break
        case .token(let token): headers[.authorization] = "Bearer \(token)"
        }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: json.serialized())
            headers[.contentType] = "application/json"
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body)
    }

    /// Submits `json` and returns the created execution's JSON.
    func submit(_ json: JSONValue, as caller: Caller = .admin) async throws -> JSONValue {
        let response = try await request(.post, "/v1/executions", json: json, as: caller)
        #expect(response.status == .created, "\(response.text)")
        return try response.json()
    }

    func id(of execution: JSONValue) throws -> UUID {
        let text = try #require(execution["id"]?.stringValue)
        return try #require(UUID(uuidString: text))
    }

    /// Expects a problem+json response with `status`, `code` and (if given) `field`.
    func expectProblem(
        _ response: TestResponse, status: HTTPResponse.Status, code: String, field: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let problem = try response.json()
        #expect(problem["code"]?.stringValue == code, "\(response.text)", sourceLocation: sourceLocation)
        #expect(problem["status"]?.int64Value == Int64(status.code), sourceLocation: sourceLocation)
        #expect(problem["type"]?.stringValue == "urn:berth:problem:\(code)", sourceLocation: sourceLocation)
        #expect(problem["title"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(problem["detail"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        if let field {
            #expect(problem["field"]?.stringValue == field, "\(response.text)", sourceLocation: sourceLocation)
        }
    }
}
