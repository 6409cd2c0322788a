public import BerthCore

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

    /// A context.
    /// - Parameters:
    ///   - store: Durable state.
    ///   - plugins: The plugin host, started or starting.
    ///   - control: What cancels executions.
    ///   - sealer: What seals secret environment values.
    public init(store: any Store, plugins: PluginHost, control: any ExecutionControl, sealer: (any SecretSealer)? = nil) {
        self.store = store
        self.plugins = plugins
        self.control = control
        self.sealer = sealer
    }
}
