import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging

/// `POST /v1/tokens`, `GET /v1/tokens`, `POST /v1/tokens/{id}/revoke` (admin only).
extension API {
    /// The body of `POST /v1/tokens`.
    struct TokenRequest {
        var name: String
        var role: APIRole
        var owner: String
        var expiresInSeconds: Int64?

        static let fields: Set<String> = ["name", "role", "owner", "expires_in_seconds"]
        /// Names and owners: 1 to 100 characters, none of them a control character.
        static let maxNameLength = 100
        /// The longest lifetime a token may be given: ten years.
        static let maxLifetime: Int64 = 10 * 365 * 86_400

        init(body bytes: [UInt8]) throws(Problem) {
            self = try JSONRequestBody.read(bytes, allowed: Self.fields, TokenRequest.init(reader:))
        }

        private init(reader: JSONObjectReader) throws {
            name = try Self.label(reader.string("name"), field: "name")
            guard let role = try reader.optionalEnum("role", APIRole.self) else {
                throw JSONError(location: "role", reason: "is required")
            }
            self.role = role
            owner = try Self.label(reader.optionalString("owner") ?? name, field: "owner")
            expiresInSeconds = try reader.optionalInt("expires_in_seconds")
            if let seconds = expiresInSeconds, !(1...Self.maxLifetime).contains(seconds) {
                throw Problem.invalid("expires_in_seconds", "must be from 1 to \(Self.maxLifetime) (ten years), found \(seconds)", code: "out_of_range")
            }
        }

        private static func label(_ text: String, field: String) throws(Problem) -> String {
            guard (1...maxNameLength).contains(text.count), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Problem.invalid(field, "must be 1 to \(maxNameLength) characters with no control characters")
            }
            return text
        }
    }

    func createToken(_ request: Request, context: some RequestContext) async throws -> Response {
        let body = try await Self.readBody(request, limit: configuration.maxBodyBytes)
        let wanted = try TokenRequest(body: body)
        let secret = TokenSecret(newFor: UUID())
        let token = try await self.context.store.createToken(NewAPIToken(
            id: secret.id, name: wanted.name, owner: wanted.owner, role: wanted.role, hash: secret.hash,
            expiresAt: wanted.expiresInSeconds.map { Date().addingTimeInterval(Double($0)) }))
        context.logger.notice("API token created", metadata: [
            "token.name": .string(token.name), "token.role": .string(token.role.rawValue), "token.created": .string(Wire.id(token.id)),
        ])
        var json = Wire.token(token).objectValue ?? [:]
        json["token"] = .string(secret.text)
        return JSONBody.response(.object(json), status: .created)
    }

    func listTokens() async throws -> Response {
        JSONBody.response(["items": .array(try await context.store.tokens().map(Wire.token))])
    }

    func revokeToken(_ requestContext: some RequestContext) async throws -> Response {
        let text = requestContext.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: text), let token = try await context.store.revokeToken(id: id) else {
            throw Problem(.notFound, code: "token_not_found", title: "Token not found", detail: "no API token has id '\(text)'")
        }
        tokens.forget(id)
        requestContext.logger.notice("API token revoked", metadata: ["token.name": .string(token.name)])
        return JSONBody.response(Wire.token(token))
    }
}
