import BerthPluginKit
import DockerEngine
import TarFormat

/// The kubelet's work for one pod on the Docker engine: get the image (with the kubelet's
/// pull errors and back-off), create and start the container. What happens after the start is
/// driven by the engine's events (``ContainerDeaths``).
struct Kubelet: Sendable {
    /// The cluster the pod is in.
    let cluster: Cluster
    /// The engine.
    let docker: DockerClient
    /// The pod's name.
    let pod: String
    /// The pod's uid (a later pod of the same name is another pod).
    let uid: String

    /// Back-off between pull attempts: it doubles from the first up to the last.
    static let pullBackoff: (first: Duration, last: Duration) = (.seconds(2), .seconds(10))

    /// Runs the pod's container, or leaves it waiting with the reason the kubelet gives.
    func run() async {
        guard let record = await cluster.wantedPod(pod, uid: uid) else { return }
        let container = record.container
        guard let reference = Self.reference(container.image) else {
            _ = await cluster.setWaiting(
                pod, uid: uid, reason: "InvalidImageName",
                message: "Failed to apply default image tag \"\(container.image)\": couldn't parse image reference \"\(container.image)\": invalid reference format")
            return
        }
        guard await haveImage(container, reference) else { return }
        guard let files = await mountableFiles(container) else { return }
        guard let current = await cluster.wantedPod(pod, uid: uid) else { return }
        let namespace = cluster.namespace
        let labels = [
            docker.label.key: docker.label.value, "io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": namespace,
            "io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": container.name,
        ]
        let config: JSONValue
        switch container.dockerConfig(pod: current, namespace: namespace, labels: labels) {
        case .success(let made):
            config = made
        case .failure(let problem):
            _ = await cluster.setWaiting(pod, uid: uid, reason: "CreateContainerConfigError", message: problem.message)
            return
        }
        let id: String
        do {
            id = try await docker.create(name: "k8s_\(container.name)_\(pod)_\(namespace)_\(uid)_0", config: config)
        } catch {
            _ = await cluster.setWaiting(pod, uid: uid, reason: "CreateContainerError", message: error.message)
            return
        }
        guard await cluster.containerCreated(pod, uid: uid, id: id) else {
            await docker.remove(id)
            return
        }
        if !files.isEmpty {
            do {
                var archive = TarWriter()
                for file in files {
                    try archive.addFile(path: String(file.path.drop { $0 == "/" }), contents: file.data, mode: UInt32(file.mode))
                }
                try await docker.putArchive(id, archive.finish())
            } catch {
                await cluster.containerStartFailed(pod, uid: uid, id: id, message: "mounting volumes: \(error)")
                return
            }
        }
        do {
            try await docker.start(id)
        } catch {
            await cluster.containerStartFailed(pod, uid: uid, id: id, message: error.message)
            return
        }
        let inspect = try? await docker.inspect(id)
        await cluster.containerStarted(pod, uid: uid, id: id, inspect: inspect)
    }

    /// The files of the container's volume mounts, waiting (`ContainerCreating`, retried every
    /// second as the kubelet does) while a ConfigMap or key they need is missing; nil when the
    /// pod is no longer wanted or mounts a volume type the double cannot make.
    private func mountableFiles(_ container: ContainerSpec) async -> [(path: String, data: [UInt8], mode: Int)]? {
        for mount in container.mounts {
            if case .unsupported(let type) = mount.volume.source {
                _ = await cluster.setWaiting(
                    pod, uid: uid, reason: "CreateContainerConfigError",
                    message: "volume \"\(mount.volume.name)\": \(type) volumes are not supported by the Kubernetes double")
                return nil
            }
        }
        while true {
            switch await cluster.volumeFiles(container.mounts) {
            case .success(let files):
                return files
            case .failure(let problem):
                guard await cluster.setWaiting(pod, uid: uid, reason: "ContainerCreating", message: problem.message),
                      (try? await Task.sleep(for: .seconds(1))) != nil
                else { return nil }
            }
        }
    }

    /// Makes sure the engine has the image as the pull policy says; retries failed pulls with
    /// back-off (`ErrImagePull`, then `ImagePullBackOff`) while the pod is wanted. Returns
    /// whether to go on.
    private func haveImage(_ container: ContainerSpec, _ reference: ImageReference) async -> Bool {
        var backoff = Self.pullBackoff.first
        while true {
            let problem: String
            do {
                let present = try await docker.hasImage(container.image)
                if present && container.pullPolicy != "Always" { return true }
                if !present && container.pullPolicy == "Never" {
                    _ = await cluster.setWaiting(
                        pod, uid: uid, reason: "ErrImageNeverPull",
                        message: "Container image \"\(container.image)\" is not present with pull policy of Never")
                    return false
                }
                if let registry = reference.registry, Self.isLocal(registry) {
                    guard let refused = try await docker.pull(name: reference.name, tag: reference.effectiveTag, digest: reference.digest)
                    else { return true }
                    problem = refused
                } else {
                    // The tests' engine may only reach registries on this machine.
                    problem = "failed to resolve reference \"\(reference)\": the Kubernetes double pulls only from registries on 127.0.0.1 or localhost"
                }
            } catch {
                problem = error.message
            }
            let lowered = problem.lowercased()
            let code = lowered.contains("not found") || lowered.contains("manifest unknown") ? "NotFound" : "Unknown"
            let message = "rpc error: code = \(code) desc = failed to pull and unpack image \"\(reference)\": \(problem)"
            guard await cluster.setWaiting(pod, uid: uid, reason: "ErrImagePull", message: message),
                  (try? await Task.sleep(for: .seconds(1))) != nil,
                  await cluster.setWaiting(pod, uid: uid, reason: "ImagePullBackOff", message: "Back-off pulling image \"\(container.image)\""),
                  (try? await Task.sleep(for: backoff)) != nil
            else { return false }
            backoff = min(backoff * 2, Self.pullBackoff.last)
        }
    }

    /// Whether `registry` (`host:port`) is on this machine.
    static func isLocal(_ registry: String) -> Bool {
        let host = registry.split(separator: ":").first.map(String.init) ?? registry
        return host == "127.0.0.1" || host == "localhost"
    }

    /// `image` as a reference, nil when the kubelet would call it an `InvalidImageName`
    /// (Docker's grammar: a lowercase repository, a tag of word characters, dots and dashes).
    static func reference(_ image: String) -> ImageReference? {
        guard let reference = ImageReference(image) else { return nil }
        let repositoryOK = reference.repository.allSatisfy {
            $0.isASCII && ($0.isLowercase || $0.isNumber || "._-/".contains($0))
        }
        let tagOK = reference.tag.map { tag in
            tag.count <= 128 && tag.first != "." && tag.first != "-"
                && tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
        } ?? true
        return repositoryOK && tagOK ? reference : nil
    }
}
