public import Foundation

/// What an API token may do.
///
/// - `admin`: everything, including managing tokens, on every execution.
/// - `submitter`: submits executions and reads, follows and cancels its own; another owner's
///   execution does not exist for it (404).
/// - `viewer`: reads every execution, its logs and events, and the hosts; changes nothing.
public enum APIRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// Everything.
    case admin
    /// Its own executions.
    case submitter
    /// Read-only, everything.
    case viewer
}

/// An API token as stored: never the secret, only its SHA-256.
public struct APIToken: Sendable, Hashable, Identifiable {
    /// The token's id (not secret; used to list and revoke it).
    public var id: UUID
    /// A name for people (`ci-pipeline`).
    public var name: String
    /// The principal the token acts as: the owner of what it submits.
    public var owner: String
    /// What it may do.
    public var role: APIRole
    /// When it was created.
    public var createdAt: Date
    /// When it was last used (updated at most once a minute).
    public var lastUsedAt: Date?
    /// When it stops working, if ever.
    public var expiresAt: Date?
    /// When it was revoked, if it was.
    public var revokedAt: Date?

    /// A token record.
    public init(
        id: UUID, name: String, owner: String, role: APIRole, createdAt: Date,
        lastUsedAt: Date? = nil, expiresAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.owner = owner
        self.role = role
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// A token to store: its record and the SHA-256 (hex) of its secret.
public struct NewAPIToken: Sendable, Hashable {
    /// The token's id (part of the token string, so the secret is found without searching by it).
    public var id: UUID
    /// A name for people.
    public var name: String
    /// The principal the token acts as.
    public var owner: String
    /// What it may do.
    public var role: APIRole
    /// SHA-256 of the secret, lowercase hex.
    public var hash: String
    /// When it stops working, if ever.
    public var expiresAt: Date?

    /// A token to store.
    public init(id: UUID, name: String, owner: String, role: APIRole, hash: String, expiresAt: Date? = nil) {
        self.id = id
        self.name = name
        self.owner = owner
        self.role = role
        self.hash = hash
        self.expiresAt = expiresAt
    }
}
