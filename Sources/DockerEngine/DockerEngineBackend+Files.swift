import BerthHTTP
public import BerthPluginKit
import TarFormat

extension DockerEngineBackend {
    /// Places `files` in the created container `id` before it starts: one tar archive through
    /// `PUT /containers/{id}/archive`, folders made as needed.
    func place(_ files: [SpecFile], in id: String, execution: String) async throws(PluginError) {
        var archive = TarWriter()
        for file in files {
            do {
                try archive.addFile(path: String(file.path.drop { $0 == "/" }), contents: file.data, mode: UInt32(file.mode))
            } catch {
                throw PluginError(.invalidSpec, "host \(host): execution \(execution): cannot place \(file.path): \(error)")
            }
        }
        let response = try await api.send(
            "PUT", "/containers/\(DockerAPI.pathSegment(id))/archive", query: [("path", "/")], body: archive.finish(),
            headers: ["Content-Type": "application/x-tar"])
        guard response.status == 200 else {
            throw api.failure(response, "execution \(execution): placing input files in the container")
        }
    }

    /// The folder `request.path` of an ended container as a tar archive
    /// (`GET /containers/{id}/archive`), streamed in parts as the engine sends it.
    public func collect(_ request: CollectRequest) -> PluginStream<ArchivePart> {
        let (output, continuation) = PluginStream<ArchivePart>.makeStream()
        let task = Task {
            do throws(PluginError) {
                let id = try Self.containerID(request.handle, host: host)
                let http = try await api.request(
                    "GET", "/containers/\(DockerAPI.pathSegment(id))/archive", query: [("path", request.path)], deadline: .none)
                let failed = try await api.transport.receive(http) { bytes throws(PluginError) in
                    continuation.yield(ArchivePart(data: bytes))
                    return true
                }
                if let failed {
                    throw api.failure(failed, "collecting \(request.path) from container \(id)")
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }
}
