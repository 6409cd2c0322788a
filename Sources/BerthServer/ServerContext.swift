public import BerthCore
public import Foundation

/// What the REST handlers work with: the Store, the plugins and the running system.
public struct ServerContext: Sendable {
    /// Durable state: executions, events, logs, hosts.
    public var store: any Store
    /// The loaded plugins and the opened target hosts.
    public var plugins: PluginHost
    /// Cancels executions (the Scheduler in production).
    public var control: any ExecutionControl
    /// Seals submitted secret environment values; `nil` refuses submissions that have any.
    public var sealer: (any SecretSealer)?
    /// The wall clock schedules are read by (when a run is due, when the next one is); tests
    /// pass one they move by hand.
    public var now: @Sendable () -> Date

    /// A context.
    /// - Parameters:
    ///   - store: Durable state.
    ///   - plugins: The plugin host, started or starting.
    ///   - control: What cancels executions.
    ///   - sealer: What seals secret environment values.
    ///   - now: The wall clock for schedules.
    public init(
        store: any Store, plugins: PluginHost, control: any ExecutionControl, sealer: (any SecretSealer)? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.plugins = plugins
        self.control = control
        self.sealer = sealer
        self.now = now
    }
}
