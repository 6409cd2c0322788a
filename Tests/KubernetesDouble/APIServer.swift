import BerthPluginKit
import HTTPTypes
import Hummingbird
import NIOCore

/// Answers the requests of one listener: authentication (bearer token or client certificate),
/// RBAC-like authorization, routing, and the objects or `Status` errors as JSON.
struct APIServer: Sendable {
    /// How callers of the listener prove who they are.
    enum Authentication: Sendable {
        /// `Authorization: Bearer <token>`.
        case token
        /// A client certificate the TLS handshake has verified.
        case certificate
    }

    /// The cluster.
    let cluster: Cluster
    /// How this listener authenticates.
    let authentication: Authentication
    /// Known tokens and whose they are.
    let users: [String: String]
    /// Who a verified client certificate is.
    let certificateUser: String
    /// Users refused on Jobs and pods.
    let forbiddenUsers: Set<String>

    /// The largest body accepted, as the real server's limit.
    private static let bodyLimit = 3 * 1024 * 1024

    /// The answer to `request`; every answer is recorded.
    func respond(to request: Request) async -> Response {
        let query = QueryParameters(request.uri.query)
        let method = request.method.rawValue
        let response: Response
        do throws(APIStatus) {
            response = try await handle(request, method: method, query: query)
        } catch {
            response = Self.json(error.json, status: error.code)
        }
        await cluster.record(RecordedRequest(
            method: method, path: request.uri.path, query: request.uri.query ?? "", status: response.status.code))
        return response
    }

    private func handle(_ request: Request, method: String, query: QueryParameters) async throws(APIStatus) -> Response {
        if let injected = await cluster.takeInjectedFailure() { throw injected }
        let user = try authenticate(request)
        switch try APIRoute(path: request.uri.path) {
        case .version:
            guard method == "GET" else { throw APIStatus.methodNotAllowed }
            return Self.json(Self.version)
        case .health:
            guard method == "GET" else { throw APIStatus.methodNotAllowed }
            return Self.text(Array("ok".utf8))
        case .namespace(let name):
            guard method == "GET" else { throw APIStatus.methodNotAllowed }
            guard name == cluster.namespace else { throw APIStatus.notFound(.namespaces, name) }
            return Self.json(await cluster.namespaceObject)
        case .collection(let resource, let namespace):
            return try await collection(request, method: method, query: query, user: user, resource, namespace)
        case .object(let resource, let namespace, let name):
            return try await object(request, method: method, query: query, user: user, resource, namespace, name)
        case .log(let namespace, let pod):
            guard method == "GET" else { throw APIStatus.methodNotAllowed }
            try authorize(user, "get", .pods, name: pod, subresource: "log", namespace: namespace)
            return try await log(request, query, namespace: namespace, pod: pod)
        }
    }

    private func collection(
        _ request: Request, method: String, query: QueryParameters, user: String, _ resource: APIResource, _ namespace: String
    ) async throws(APIStatus) -> Response {
        switch method {
        case "GET":
            let watching = try query.bool("watch") ?? false
            try authorize(user, watching ? "watch" : "list", resource, name: nil, namespace: namespace)
            let labels = try LabelSelector(parsing: query["labelSelector"])
            let fieldText = [query["fieldSelector"], "metadata.namespace=\(namespace)"].compactMap { $0 }.joined(separator: ",")
            let fields = try FieldSelector(parsing: fieldText, for: resource)
            guard watching else { return Self.json(await cluster.listObject(resource, labels: labels, fields: fields)) }
            var from: Int?
            if let text = query["resourceVersion"], !text.isEmpty {
                guard let number = Int(text), number >= 0 else {
                    throw APIStatus.badRequest("resourceVersion: Invalid value: \"\(text)\": must be a non-negative integer")
                }
                from = number
            }
            let timeout = try query.int("timeoutSeconds").map { Duration.seconds(max(0, $0)) }
            let lines = await cluster.watch(
                resource, labels: labels, fields: fields, from: from, bookmarks: try query.bool("allowWatchBookmarks") ?? false,
                timeout: timeout)
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                // Ends the watch when the client hangs up, even while nothing is being written.
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    for await line in lines { try await writer.write(ByteBuffer(bytes: line)) }
                }
                try await writer.finish(nil)
            })
        case "POST" where resource == .jobs:
            try authorize(user, "create", resource, name: nil, namespace: namespace)
            let json = try await readJSON(request, kind: "Job")
            return Self.json(try await cluster.createJob(json, namespace: namespace), status: 201)
        case "POST" where resource == .configMaps:
            try authorize(user, "create", resource, name: nil, namespace: namespace)
            let json = try await readJSON(request, kind: "ConfigMap")
            return Self.json(try await cluster.createConfigMap(json, namespace: namespace), status: 201)
        default:
            throw APIStatus.methodNotAllowed
        }
    }

    private func object(
        _ request: Request, method: String, query: QueryParameters, user: String, _ resource: APIResource, _ namespace: String,
        _ name: String
    ) async throws(APIStatus) -> Response {
        switch method {
        case "GET":
            try authorize(user, "get", resource, name: name, namespace: namespace)
            guard namespace == cluster.namespace else { throw APIStatus.notFound(resource, name) }
            return Self.json(try await cluster.get(resource, name))
        case "DELETE":
            try authorize(user, "delete", resource, name: name, namespace: namespace)
            if resource == .configMaps {
                return Self.json(try await cluster.deleteConfigMap(name, namespace: namespace))
            }
            let options = try await deleteOptions(request, query)
            if resource == .jobs {
                return Self.json(try await cluster.deleteJob(name, namespace: namespace, options: options))
            }
            return Self.json(try await cluster.deletePod(name, namespace: namespace, options: options))
        case "PATCH" where resource == .configMaps:
            try authorize(user, "patch", resource, name: name, namespace: namespace)
            guard request.headers[.contentType]?.hasPrefix("application/merge-patch+json") == true else {
                throw APIStatus(code: 415, reason: "UnsupportedMediaType", message: "the double takes only application/merge-patch+json patches")
            }
            let patch = try await readJSON(request, kind: "ConfigMap")
            return Self.json(try await cluster.patchConfigMap(name, namespace: namespace, patch: patch))
        default:
            throw APIStatus.methodNotAllowed
        }
    }

    private func log(
        _ request: Request, _ query: QueryParameters, namespace: String, pod: String
    ) async throws(APIStatus) -> Response {
        let options = try PodLogs(query)
        let id = try await cluster.logContainer(
            pod, namespace: namespace, container: query["container"], previous: try query.bool("previous") ?? false)
        let pieces = options.read(id, from: cluster.docker)
        guard options.follow else {
            var body: [UInt8] = []
            do {
                for try await piece in pieces { body += piece }
            } catch {
                throw APIStatus.internalError("reading the logs of container \(id): \(error)")
            }
            return Self.text(body)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await request.body.consumeWithCancellationOnInboundClose { _ in
                for try await piece in pieces { try await writer.write(ByteBuffer(bytes: piece)) }
            }
            try await writer.finish(nil)
        })
    }

    /// Who sent `request`.
    private func authenticate(_ request: Request) throws(APIStatus) -> String {
        switch authentication {
        case .certificate:
            return certificateUser
        case .token:
            guard let header = request.headers[.authorization] else { throw APIStatus.unauthorized }
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", let user = users[String(parts[1]).trimmingSpaces] else {
                throw APIStatus.unauthorized
            }
            return user
        }
    }

    /// Refuses what RBAC would refuse the forbidden user: any verb on Jobs and pods.
    private func authorize(
        _ user: String, _ verb: String, _ resource: APIResource, name: String?, subresource: String? = nil, namespace: String
    ) throws(APIStatus) {
        guard forbiddenUsers.contains(user) else { return }
        throw APIStatus.forbidden(user: user, verb: verb, resource, name: name, subresource: subresource, namespace: namespace)
    }

    /// The body as JSON, or the API server's 400 for what it cannot decode as a `kind`.
    private func readJSON(_ request: Request, kind: String) async throws(APIStatus) -> JSONValue {
        let body = try await readBody(request)
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw BodyReader(kind: kind).unusable("json: \(error)")
        }
    }

    private func readBody(_ request: Request) async throws(APIStatus) -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: Self.bodyLimit)
            return Array(buffer.readableBytesView)
        } catch {
            throw APIStatus(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is \(Self.bodyLimit)")
        }
    }

    /// The options of a DELETE: the query's, overridden by a `DeleteOptions` body.
    private func deleteOptions(_ request: Request, _ query: QueryParameters) async throws(APIStatus) -> DeleteOptions {
        var options = DeleteOptions(propagationPolicy: query["propagationPolicy"], gracePeriodSeconds: try query.int("gracePeriodSeconds"))
        if let orphan = try query.bool("orphanDependents") { options.propagationPolicy = orphan ? "Orphan" : "Background" }
        let body = try await readBody(request)
        guard !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return options }
        let reader = BodyReader(kind: "DeleteOptions")
        guard let json = try? JSONValue(parsing: body), json.objectValue != nil else {
            throw reader.unusable("the body is not a JSON object")
        }
        if let orphan = try reader.bool(json["orphanDependents"], "DeleteOptions.orphanDependents") {
            options.propagationPolicy = orphan ? "Orphan" : "Background"
        }
        if let policy = try reader.string(json["propagationPolicy"], "DeleteOptions.propagationPolicy") {
            options.propagationPolicy = policy
        }
        if let grace = try reader.int(json["gracePeriodSeconds"], "DeleteOptions.gracePeriodSeconds") {
            options.gracePeriodSeconds = grace
        }
        let preconditions = try reader.object(json["preconditions"], "DeleteOptions.preconditions")
        options.uid = try reader.string(preconditions?["uid"], "Preconditions.preconditions.uid")
        return options
    }

    /// `GET /version`.
    static let version: JSONValue = [
        "major": "1", "minor": "30", "gitVersion": "v1.30.0-berth-double",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean", "buildDate": "2024-04-17T00:00:00Z",
        "goVersion": "go1.22.2", "compiler": "gc", "platform": "linux/amd64",
    ]

    /// A JSON answer, ending with a newline as the API server's encoder writes it.
    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache, private"
        if status == 429 { headers[.retryAfter] = "1" }
        var bytes = value.serialized()
        bytes.append(UInt8(ascii: "\n"))
        return Response(status: Self.status(status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A plain-text answer.
    static func text(_ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func status(_ code: Int) -> HTTPResponse.Status {
        let phrases = [
            200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 415: "Unsupported Media Type",
            405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout",
        ]
        return HTTPResponse.Status(code: code, reasonPhrase: phrases[code] ?? "Status \(code)")
    }
}
