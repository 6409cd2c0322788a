/// A stream of items from a plugin (log chunks, events); it fails with a ``PluginError``.
public typealias PluginStream<Element> = AsyncThrowingStream<Element, any Error>

/// One opened backend for one target host, as Swift sees it.
///
/// Plugin authors conform a type to ``BackendPlugin`` (which refines this protocol) and
/// export it with ``PluginExport``; the host sees every loaded plugin, whatever its language,
/// through this same protocol (``PluginInstance``). All methods may be called concurrently.
public protocol Backend: Sendable {
    /// Whether the engine answers. An unreachable engine is `ok: false`, not an error.
    func health() async throws(PluginError) -> Health
    /// How much the host takes and runs.
    func capacity() async throws(PluginError) -> Capacity
    /// Creates and starts one attempt, labelled with Berth's labels; returns its handle.
    func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle
    /// The attempt's status; `not_found` when it vanished.
    func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus
    /// Asks the attempt to end, kills it after `graceSeconds`, and returns once it ended.
    func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError)
    /// Removes the attempt's runtime objects.
    func remove(_ handle: RuntimeHandle) async throws(PluginError)
    /// Runtime objects whose labels include all of `labels`.
    func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject]
    /// The attempt's output, stdout and stderr each in order; with `follow`, until it ends.
    func logs(_ request: LogRequest) -> PluginStream<LogChunk>
    /// The instance's event stream: status changes of Berth's objects and connection changes.
    func events() -> PluginStream<BackendEvent>
    /// A folder of an ended attempt's runtime object as a tar archive, in parts; `not_found`
    /// when there is no such folder, `unsupported` when the backend cannot collect files.
    func collect(_ request: CollectRequest) -> PluginStream<ArchivePart>
    /// Frees what the instance holds. Called once, last.
    func close() async
}

extension Backend {
    /// A backend that cannot collect files: the stream fails with `unsupported`.
    public func collect(_ request: CollectRequest) -> PluginStream<ArchivePart> {
        PluginStream { throw PluginError(.unsupported, "this backend does not collect files from its runtime objects") }
    }
}

/// What the host tells a plugin when it opens an instance.
public struct PluginSettings: Sendable {
    /// The host settings from configuration, as a JSON object (with `host` and `server`).
    public var json: JSONValue
    /// The target host's name, for messages.
    public var host: String
    /// The Berth server id, for the `berth.server` label.
    public var server: String

    /// Settings for one instance.
    public init(json: JSONValue, host: String, server: String) {
        self.json = json
        self.host = host
        self.server = server
    }

    /// Reads `json` as the ABI passes it to `open`: an object with `host` and `server` added.
    public init(abiJSON json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "settings")
        self.init(
            json: json, host: try reader.optionalString("host") ?? "",
            server: try reader.optionalString("server") ?? "")
    }

    /// A reader over the settings, for `open` implementations.
    public func reader() throws(PluginError) -> JSONObjectReader {
        do {
            return try JSONObjectReader(json, path: "settings")
        } catch {
            throw PluginError(.invalidConfig, "host \(host): \(error)")
        }
    }

    /// Refuses a key that is neither in `allowed` nor one the host adds (`host`, `server`).
    /// - Throws: `invalid_config` naming the first unknown key.
    public func rejectUnknownKeys(allowed: Set<String>) throws(PluginError) {
        let known = allowed.union(["host", "server"])
        if let unknown = try reader().members.keys.sorted().first(where: { !known.contains($0) }) {
            throw PluginError(.invalidConfig, "host \(host): settings.\(unknown): unknown key")
        }
    }
}

/// A backend written in Swift, exported as a plugin with ``PluginExport/descriptor(for:)``.
public protocol BackendPlugin: Backend {
    /// Backend name used in configuration (`plugin: docker`), `[a-z0-9-]+`.
    static var name: String { get }
    /// The plugin's version.
    static var version: String { get }
    /// JSON Schema of the host settings `open` accepts.
    static var settingsSchema: JSONValue { get }
    /// Opens one instance for one target host. Bad settings are `invalid_config` naming the
    /// key; an engine that is down is not an error here (report it through `health`).
    static func open(_ settings: PluginSettings) async throws(PluginError) -> Self
}
