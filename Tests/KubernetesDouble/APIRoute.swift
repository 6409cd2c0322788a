/// What a request path asks for.
enum APIRoute: Sendable, Hashable {
    /// `GET /version`.
    case version
    /// `/healthz`, `/livez`, `/readyz`.
    case health
    /// `/api/v1/namespaces/{namespace}`.
    case namespace(String)
    /// `/api/v1/namespaces/{namespace}/pods` (or `configmaps`), `/apis/batch/v1/namespaces/{namespace}/jobs`.
    case collection(APIResource, namespace: String)
    /// One object of a collection.
    case object(APIResource, namespace: String, name: String)
    /// `/api/v1/namespaces/{namespace}/pods/{name}/log`.
    case log(namespace: String, pod: String)

    /// The route of `path`.
    /// - Throws: 404 for a path the double does not serve.
    init(path: String) throws(APIStatus) {
        let segments = path.split(separator: "/").map { QueryParameters.decode($0) }
        if segments == ["version"] {
            self = .version
        } else if segments.count == 1, ["healthz", "livez", "readyz"].contains(segments[0]) {
            self = .health
        } else if segments.count >= 4, segments[0..<3] == ["api", "v1", "namespaces"] {
            if segments.count == 4 {
                self = .namespace(segments[3])
            } else if segments[4] == "pods" {
                self = try Self.resource(.pods, segments[3], Array(segments[5...]))
            } else if segments[4] == "configmaps" {
                self = try Self.resource(.configMaps, segments[3], Array(segments[5...]))
            } else {
                throw APIStatus.pathNotFound
            }
        } else if segments.count >= 6, segments[0..<4] == ["apis", "batch", "v1", "namespaces"], segments[5] == "jobs" {
            self = try Self.resource(.jobs, segments[4], Array(segments[6...]))
        } else {
            throw APIStatus.pathNotFound
        }
    }

    private static func resource(_ resource: APIResource, _ namespace: String, _ rest: [String]) throws(APIStatus) -> APIRoute {
        switch rest.count {
        case 0: return .collection(resource, namespace: namespace)
        case 1: return .object(resource, namespace: namespace, name: rest[0])
        case 2 where resource == .pods && rest[1] == "log": return .log(namespace: namespace, pod: rest[0])
        default: throw APIStatus.pathNotFound
        }
    }
}
