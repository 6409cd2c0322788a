import BerthCore
import Foundation
import HTTPTypes
import Hummingbird

/// Turns a request's `Authorization: Bearer …` into a ``Principal``, or a 401 problem.
///
/// The token's record comes from a cache that a revocation empties (``NotifiedCache``), so a
/// revocation takes effect on the next request. `last_used_at` is written at most once a
/// minute per token.
struct Authenticator: Sendable {
    let store: any Store
    let cache: NotifiedCache<TokenCredential>

    /// How stale `last_used_at` may get before a request refreshes it.
    static let lastUsedResolution: TimeInterval = 60

    func principal(for request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthenticated("this route needs an API token: send 'Authorization: Bearer <token>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthenticated("the Authorization header must be 'Bearer <token>'")
        }
        guard let secret = TokenSecret(parsing: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw Problem.unauthenticated("the token is malformed (Berth tokens read berth_<id>_<secret>)")
        }
        let store = self.store
        let credential = try await cache.value(secret.id) {
            try await store.tokenCredential(id: secret.id).map { TokenCredential(token: $0.token, secretHash: $0.secretHash) }
        }
        guard let credential, secret.matches(storedHash: credential.secretHash) else {
            throw Problem.unauthenticated("the token is not valid")
        }
        let token = credential.token
        let now = Date()
        if token.revokedAt != nil { throw Problem.unauthenticated("the token was revoked") }
        if let expiry = token.expiresAt, expiry <= now { throw Problem.unauthenticated("the token expired") }
        if token.lastUsedAt.map({ now.timeIntervalSince($0) > Self.lastUsedResolution }) ?? true {
            try await store.markTokenUsed(id: token.id)
            cache.update(token.id) { $0.token.lastUsedAt = now }
        }
        return Principal(tokenID: token.id, owner: token.owner, role: token.role)
    }
}
