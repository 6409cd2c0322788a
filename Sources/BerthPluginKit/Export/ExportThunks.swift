import CBerthPlugin

/// The C functions of an exported descriptor. They capture nothing: the plugin type comes
/// through `plugin_data`, the instance through `berth_instance_t *`. Each decodes its request
/// on the caller's thread, runs the Swift method in a task, and completes exactly once.
enum ExportThunks {
    static let open: @convention(c) (
        UnsafePointer<berth_plugin_v1_t>?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?,
        berth_open_completion_fn?
    ) -> Void = { plugin, settings, length, context, done in
        let reply = OpenReply(context: context, done: done)
        guard let data = plugin?.pointee.plugin_data else {
            return reply.fail(PluginError(.internal, "descriptor has no plugin data"))
        }
        let opener = Unmanaged<PluginOpener>.fromOpaque(data).takeUnretainedValue()
        let parsed: PluginSettings
        do {
            parsed = try PluginSettings(abiJSON: JSONValue(parsing: Payload.bytes(settings, length)))
        } catch {
            return reply.fail(PluginError(.invalidConfig, "settings: \(error)"))
        }
        Task {
            do throws(PluginError) {
                let backend = try await opener.open(parsed)
                reply.succeed(ExportedInstance(backend: backend))
            } catch {
                reply.fail(error)
            }
        }
    }

    static let close: @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, context, done in
        let reply = Reply(context: context, done: done)
        guard let instance else { return reply.fail(PluginError(.internal, "close of a null instance")) }
        // Balances the retain taken when the instance was handed to the host.
        let exported = Unmanaged<ExportedInstance>.fromOpaque(UnsafeRawPointer(instance)).takeRetainedValue()
        Task {
            await exported.backend.close()
            reply.succeed(nil)
        }
    }

    static let health: @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, context, done in
        run(instance, Reply(context: context, done: done)) { backend throws(PluginError) in
            try await backend.health().json
        }
    }

    static let capacity: @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, context, done in
        run(instance, Reply(context: context, done: done)) { backend throws(PluginError) in
            try await backend.capacity().json
        }
    }

    static let start: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, body, length, context, done in
        run(instance, body, length, Reply(context: context, done: done)) {
            (backend, spec: ExecutionSpec) throws(PluginError) in
            try await backend.start(spec).json
        }
    }

    static let inspect: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, body, length, context, done in
        run(instance, body, length, Reply(context: context, done: done)) {
            (backend, handle: RuntimeHandle) throws(PluginError) in
            try await backend.inspect(handle).json
        }
    }

    static let stop: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, body, length, context, done in
        run(instance, body, length, Reply(context: context, done: done)) {
            (backend, request: StopRequest) throws(PluginError) in
            try await backend.stop(request.handle, graceSeconds: request.graceSeconds)
            return nil
        }
    }

    static let remove: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, body, length, context, done in
        run(instance, body, length, Reply(context: context, done: done)) {
            (backend, handle: RuntimeHandle) throws(PluginError) in
            try await backend.remove(handle)
            return nil
        }
    }

    static let list: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void = { instance, body, length, context, done in
        run(instance, body, length, Reply(context: context, done: done)) {
            (backend, request: ListRequest) throws(PluginError) in
            ListResponse(items: try await backend.list(labels: request.labels)).json
        }
    }

    static let logs: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?,
        berth_stream_item_fn?, berth_stream_end_fn?
    ) -> OpaquePointer? = { instance, body, length, context, item, end in
        openStream("logs", instance, body, length, StreamSink(context: context, item: item, end: end)) {
            (backend, request: LogRequest) in backend.logs(request).map { $0.json }
        }
    }

    static let collect: @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?,
        berth_stream_item_fn?, berth_stream_end_fn?
    ) -> OpaquePointer? = { instance, body, length, context, item, end in
        openStream("collect", instance, body, length, StreamSink(context: context, item: item, end: end)) {
            (backend, request: CollectRequest) in backend.collect(request).map { $0.json }
        }
    }

    /// A stream operation taking a request: decodes it (`invalid_spec` when it does not), finds
    /// the instance, and starts the stream `open` makes.
    private static func openStream<Request: JSONRepresentable>(
        _ operation: String, _ instance: OpaquePointer?, _ body: UnsafePointer<CChar>?, _ length: Int, _ sink: StreamSink,
        _ open: @escaping @Sendable (any Backend, Request) -> AsyncMapSequence<PluginStream<some Sendable>, JSONValue>
    ) -> OpaquePointer? {
        let request: Request
        do throws(JSONError) {
            request = try Request(json: JSONValue(parsing: Payload.bytes(body, length)))
        } catch {
            return ExportedStream.failed(sink, PluginError(invalidSpec: error))
        }
        guard let backend = backend(of: instance) else {
            return ExportedStream.failed(sink, PluginError(.internal, "\(operation) on a null instance"))
        }
        return ExportedStream.start(sink) { open(backend, request) }
    }

    static let events: @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, berth_stream_item_fn?, berth_stream_end_fn?
    ) -> OpaquePointer? = { instance, context, item, end in
        let sink = StreamSink(context: context, item: item, end: end)
        guard let backend = backend(of: instance) else {
            return ExportedStream.failed(sink, PluginError(.internal, "events on a null instance"))
        }
        return ExportedStream.start(sink) { backend.events().map { $0.json } }
    }

    static let streamCancel: @convention(c) (OpaquePointer?) -> Void = { stream in
        guard let stream else { return }
        Unmanaged<ExportedStream>.fromOpaque(UnsafeRawPointer(stream)).takeUnretainedValue().cancel()
    }

    static let streamRelease: @convention(c) (OpaquePointer?) -> Void = { stream in
        guard let stream else { return }
        Unmanaged<ExportedStream>.fromOpaque(UnsafeRawPointer(stream)).takeUnretainedValue().release()
    }

    // MARK: - Helpers

    private static func backend(of instance: OpaquePointer?) -> (any Backend)? {
        guard let instance else { return nil }
        return Unmanaged<ExportedInstance>.fromOpaque(UnsafeRawPointer(instance)).takeUnretainedValue().backend
    }

    /// Runs an operation without a request body.
    private static func run(
        _ instance: OpaquePointer?, _ reply: Reply,
        _ operation: @escaping @Sendable (any Backend) async throws(PluginError) -> JSONValue?
    ) {
        guard let backend = backend(of: instance) else {
            return reply.fail(PluginError(.internal, "call on a null instance"))
        }
        Task {
            do throws(PluginError) {
                reply.succeed(try await operation(backend))
            } catch {
                reply.fail(error)
            }
        }
    }

    /// Decodes a request body on the calling thread, then runs the operation in a task.
    private static func run<Request: JSONRepresentable>(
        _ instance: OpaquePointer?, _ body: UnsafePointer<CChar>?, _ length: Int, _ reply: Reply,
        _ operation: @escaping @Sendable (any Backend, Request) async throws(PluginError) -> JSONValue?
    ) {
        let request: Request
        do throws(JSONError) {
            request = try Request(json: JSONValue(parsing: Payload.bytes(body, length)))
        } catch {
            return reply.fail(PluginError(invalidSpec: error))
        }
        run(instance, reply) { backend throws(PluginError) in try await operation(backend, request) }
    }
}
