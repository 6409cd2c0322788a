public import Foundation

/// What the API may ask of the running system beyond reading and writing the Store.
///
/// The ``Scheduler`` implements it; the REST server depends only on this protocol.
public protocol ExecutionControl: Sendable {
    /// Cancels an execution. The state becomes `cancelled` at once (so the attempt's own exit
    /// cannot record it as `failed`); a starting or running attempt is then stopped in the
    /// background, within the configured grace. Cancelling a terminal execution changes nothing.
    /// - Returns: the execution after the request, or nil when no execution has this id.
    func cancel(_ id: UUID, reason: String) async throws(StoreError) -> Execution?
}
