import BerthPluginKit
import Foundation
import Logging
import TarFormat

extension ExecutionSupervisor {
    /// The largest `result.json` that is read as the result.
    static let maxResultFileBytes = 1 << 20
    /// The size of the stored chunks of a collected archive.
    static let artifactChunkBytes = 1 << 20

    /// Collects the outputs folder of an ended attempt into the Store, before its end is
    /// recorded (so whoever sees the end finds them) and before its runtime object is removed.
    ///
    /// The archive is stored in chunks; past ``Options/maxArtifactBytes`` the collection stops
    /// and the set records why, keeping nothing. A `result.json` at the folder's top is read on
    /// the way through and becomes the execution's result (source `file`). A backend that
    /// cannot collect, or a container without the folder, has no outputs: nothing is recorded.
    func collectOutputs(_ key: AttemptKey, handle: RuntimeHandle, backend: PluginInstance, logger: Logger) async {
        guard let path = options.outputsPath else { return }
        let folder = path.split(separator: "/").last.map(String.init) ?? ""
        let resultPath = folder + "/result.json"
        var scanner = TarScanner(maxContents: Self.maxResultFileBytes) { $0 == resultPath }
        var resultFile: [UInt8]?
        var sink = ArchiveSink(store: store, execution: key.execution, attempt: key.attempt)
        do {
            for try await part in backend.collect(CollectRequest(handle: handle, path: path)) {
                if !sink.began { try await sink.begin() }
                guard sink.total + Int64(part.data.count) <= options.maxArtifactBytes else {
                    throw OutputsTooLarge(limit: options.maxArtifactBytes)
                }
                for entry in try scanner.feed(part.data) where entry.path == resultPath {
                    resultFile = entry.contents
                }
                try await sink.add(part.data)
            }
            if sink.began { try await sink.finish() }
            logger.info("collected outputs", metadata: ["path": "\(path)", "bytes": "\(sink.total)"])
        } catch let error as PluginError where error.code == .unsupported || (error.code == .notFound && !sink.began) {
            logger.debug("no outputs to collect", metadata: ["reason": "\(error.message)"])
            return
        } catch {
            let reason = (error as? OutputsTooLarge)?.description ?? "collecting \(path) failed: \(error)"
            logger.warning("outputs not kept", metadata: ["reason": "\(reason)"])
            if sink.began { try? await sink.fail(reason) }
            return
        }
        if let resultFile { await recordResultFile(resultFile, key: key, path: path, logger: logger) }
    }

    /// Keeps a collected `result.json` as the execution's result when it is a JSON object.
    private func recordResultFile(_ bytes: [UInt8], key: AttemptKey, path: String, logger: Logger) async {
        guard case .object(let body)? = try? JSONValue(parsing: bytes) else {
            logger.warning("ignored \(path)/result.json: not a JSON object")
            return
        }
        guard !JSONValue.object(body).containsNUL else {
            logger.warning("ignored \(path)/result.json: it cannot be stored (a NUL character)")
            return
        }
        do {
            try await store.recordReport(ExecutionReport(
                executionID: key.execution, kind: .result, attempt: key.attempt, source: .file, body: body, at: Date()))
        } catch {
            logger.error("could not store the result file", metadata: ["error": "\(error)"])
        }
    }
}

/// Writes a collected archive to the Store in chunks of ``ExecutionSupervisor/artifactChunkBytes``.
private struct ArchiveSink {
    let store: any Store
    let execution: UUID
    let attempt: Int
    private(set) var began = false
    private var seq = 0
    private var stored: Int64 = 0
    private var pending: [UInt8] = []

    init(store: any Store, execution: UUID, attempt: Int) {
        self.store = store
        self.execution = execution
        self.attempt = attempt
    }

    /// The bytes taken so far.
    var total: Int64 { stored + Int64(pending.count) }

    mutating func begin() async throws(StoreError) {
        try await store.beginArtifacts(of: execution, attempt: attempt)
        began = true
    }

    mutating func add(_ data: [UInt8]) async throws(StoreError) {
        pending += data
        if pending.count >= ExecutionSupervisor.artifactChunkBytes { try await flush() }
    }

    mutating func finish() async throws(StoreError) {
        try await flush()
        try await store.finishArtifacts(of: execution, attempt: attempt, bytes: stored, error: nil)
    }

    func fail(_ reason: String) async throws(StoreError) {
        try await store.finishArtifacts(of: execution, attempt: attempt, bytes: total, error: reason)
    }

    private mutating func flush() async throws(StoreError) {
        guard !pending.isEmpty else { return }
        seq += 1
        try await store.appendArtifactChunk(of: execution, attempt: attempt, seq: seq, data: pending)
        stored += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }
}

/// The outputs of an attempt passed ``ExecutionSupervisor/Options/maxArtifactBytes``.
struct OutputsTooLarge: Error, CustomStringConvertible {
    let limit: Int64
    var description: String {
        "the outputs are larger than outputs.max_artifact_bytes (\(limit) bytes); none were kept"
    }
}
