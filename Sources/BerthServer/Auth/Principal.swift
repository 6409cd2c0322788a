public import BerthCore
public import Foundation

/// Who a request acts as: the token it presented, its owner and role.
public struct Principal: Sendable, Hashable {
    /// The token's id.
    public var tokenID: UUID
    /// The owner: what it submits is theirs.
    public var owner: String
    /// What it may do.
    public var role: APIRole

    /// A principal.
    public init(tokenID: UUID, owner: String, role: APIRole) {
        self.tokenID = tokenID
        self.owner = owner
        self.role = role
    }

    /// Whether it sees `execution`: admins and viewers see every one, a submitter its own.
    public func sees(_ execution: Execution) -> Bool {
        role != .submitter || execution.owner == owner
    }
}
