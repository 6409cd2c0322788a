/// A lock that at most one holder in the whole deployment has at a time: the scheduler's
/// leadership.
///
/// ``PostgresStore`` implements it with a session-level advisory lock on a dedicated
/// connection: the lock is held exactly as long as that connection's session lives, so a
/// server that crashes or loses its connection loses leadership, and the next one takes over.
public protocol LeaderLock: Sendable {
    /// Tries once to take the lock, without waiting. Returns `true` when this holder has it now
    /// (also when it already had it).
    /// - Throws: ``StoreError`` with ``StoreError/Code/unavailable`` when the database cannot be reached.
    func acquire() async throws(StoreError) -> Bool

    /// Whether the lock is still held: checks that the session behind it is alive. Returns
    /// `false` once the connection dropped (the lock is then lost, whatever happens next).
    func isHeld() async -> Bool

    /// Gives the lock up (and closes what holds it). Safe to call when not held.
    func release() async
}

/// A ``LeaderLock`` that is always granted: for Stores that live in one process only, where
/// there is nobody to compete with.
public struct SingleProcessLeaderLock: LeaderLock {
    /// Creates the lock.
    public init() {}
    /// Always `true`.
    public func acquire() async throws(StoreError) -> Bool { true }
    /// Always `true`.
    public func isHeld() async -> Bool { true }
    /// Does nothing.
    public func release() async {}
}
