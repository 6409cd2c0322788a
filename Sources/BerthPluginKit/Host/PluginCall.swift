import CBerthPlugin

/// Bridges one asynchronous ABI call to `async`: the completion resumes a continuation.
///
/// The C callbacks below capture nothing and touch no actor; each takes back the retained box
/// that was passed as context and resumes its continuation exactly once.
enum PluginCall {
    /// The raw outcome of an operation: status and body bytes.
    typealias Outcome = (status: berth_status_t, body: [UInt8])

    private final class Box: Sendable {
        let continuation: UnsafeContinuation<Outcome, Never>
        init(_ continuation: UnsafeContinuation<Outcome, Never>) { self.continuation = continuation }
    }

    private final class OpenBox: Sendable {
        let continuation: UnsafeContinuation<(berth_status_t, InstancePointer?, [UInt8]), Never>
        init(_ continuation: UnsafeContinuation<(berth_status_t, InstancePointer?, [UInt8]), Never>) {
            self.continuation = continuation
        }
    }

    private static let complete: berth_completion_fn = { context, status, body, length in
        let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
        box.continuation.resume(returning: (status, Array(Payload.bytes(body, length))))
    }

    private static let completeOpen: berth_open_completion_fn = { context, status, instance, body, length in
        let box = Unmanaged<OpenBox>.fromOpaque(context!).takeRetainedValue()
        box.continuation.resume(returning: (status, instance.map(InstancePointer.init), Array(Payload.bytes(body, length))))
    }

    /// Calls `invoke` with a context and completion, and waits for the completion.
    static func run(
        _ invoke: (UnsafeMutableRawPointer, berth_completion_fn) -> Void
    ) async -> Outcome {
        await withUnsafeContinuation { continuation in
            invoke(Unmanaged.passRetained(Box(continuation)).toOpaque(), complete)
        }
    }

    /// Calls an `open` and waits for its completion.
    static func open(
        _ invoke: (UnsafeMutableRawPointer, berth_open_completion_fn) -> Void
    ) async -> (berth_status_t, OpaquePointer?, [UInt8]) {
        let (status, instance, body) = await withUnsafeContinuation { continuation in
            invoke(Unmanaged.passRetained(OpenBox(continuation)).toOpaque(), completeOpen)
        }
        return (status, instance?.pointer, body)
    }

    /// The ``PluginError`` in an error body; a body that is not one becomes `internal`.
    static func error(from body: [UInt8], plugin: String) -> PluginError {
        do {
            return try PluginError(jsonBytes: body)
        } catch {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            return PluginError(.internal, "plugin \(plugin) returned a malformed error (\(error)): \(text)")
        }
    }

    /// Decodes a successful response, or throws the error the outcome carries.
    static func decode<Response: JSONRepresentable>(
        _ outcome: Outcome, as _: Response.Type, plugin: String, operation: String
    ) throws(PluginError) -> Response {
        guard outcome.status == BERTH_STATUS_OK else { throw error(from: outcome.body, plugin: plugin) }
        do {
            return try Response(jsonBytes: outcome.body)
        } catch {
            throw PluginError(.internal, "plugin \(plugin) returned a malformed \(operation) response: \(error)")
        }
    }

    /// Throws the error an outcome carries, if any.
    static func check(_ outcome: Outcome, plugin: String) throws(PluginError) {
        guard outcome.status == BERTH_STATUS_OK else { throw error(from: outcome.body, plugin: plugin) }
    }
}
