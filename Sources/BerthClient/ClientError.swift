/// Why a request to the Berth server did not give the answer asked for.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with a problem details body (RFC 9457) or another error status.
    case api(APIProblem)
    /// Nothing answered at the URL: connection refused, unknown name, timed out connecting.
    case unreachable(url: String, message: String)
    /// The server answered something the client cannot read.
    case invalidResponse(String)
    /// The request could not be made or broke off part-way.
    case transport(String)

    public var description: String {
        switch self {
        case .api(let problem): problem.description
        case .unreachable(let url, let message): "cannot reach the Berth server at \(url): \(message)"
        case .invalidResponse(let message): "unexpected answer from the server: \(message)"
        case .transport(let message): message
        }
    }

    /// The problem, when this is an API error.
    public var problem: APIProblem? {
        if case .api(let problem) = self { return problem }
        return nil
    }
}

/// An error answer of the API: `{"type", "title", "status", "detail", "code", "field"?}`.
public struct APIProblem: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status.
    public var status: Int
    /// The stable machine-readable code (`not_found`, `invalid_request`, …).
    public var code: String
    /// The short summary.
    public var title: String
    /// What went wrong with this request.
    public var detail: String
    /// The request field at fault, when one is (`env.HOME`).
    public var field: String?

    /// A problem.
    public init(status: Int, code: String, title: String = "", detail: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
    }

    /// `<detail> (<code>[, field <field>])`.
    public var description: String {
        var suffix = code
        if let field { suffix += ", field \(field)" }
        return "\(detail) (\(suffix))"
    }
}
