public import Foundation

/// What the API may ask of the running system beyond reading and writing the Store.
///
/// The ``Scheduler`` implements it; the REST server depends only on this protocol.
public protocol ExecutionControl: Sendable {
    /// Cancels an execution: a queued or scheduled one at once, a starting or running one by
    /// stopping its attempt first. Cancelling a terminal execution changes nothing.
    /// - Returns: the execution after the request, or nil when no execution has this id.
    func cancel(_ id: UUID, reason: String) async throws(StoreError) -> Execution?
}
