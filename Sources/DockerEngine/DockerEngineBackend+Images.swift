import BerthHTTP
import BerthPluginKit

extension DockerEngineBackend {
    /// Makes sure the engine has `image`, pulling it as `policy` says.
    func ensureImage(_ image: ImageReference, policy: ExecutionSpec.PullPolicy, execution: String) async throws(PluginError) {
        if policy != .always {
            let found = try await api.send("GET", "/images/\(URLEncoding.percentEncode(image.description, keeping: "/:@"))/json")
            switch found.status {
            case 200: return
            case 404: break
            default: throw api.failure(found, "execution \(execution): looking up image \(image)")
            }
            guard policy == .ifNotPresent else {
                throw PluginError(
                    .imageNotFound,
                    "host \(host): execution \(execution): image \(image) is not on the engine and pull_policy is never")
            }
        }
        try await pull(image, execution: execution)
    }

    /// Pulls `image` with the registry's credentials, if configured.
    func pull(_ image: ImageReference, execution: String) async throws(PluginError) {
        var query = [("fromImage", image.name)]
        if let digest = image.digest {
            query[0].1 = "\(image.name)@\(digest)"
        } else if let tag = image.effectiveTag {
            query.append(("tag", tag))
        }
        var headers: [String: String] = [:]
        let credentials = settings.registryAuth[image.registryAddress]
        if let credentials {
            let auth: JSONValue = [
                "username": .string(credentials.username), "password": .string(credentials.password),
                "serveraddress": .string(image.registryAddress),
            ]
            headers["X-Registry-Auth"] = Self.base64URL(auth.serialized())
        }
        let response = try await api.send(
            "POST", "/images/create", query: query, headers: headers, deadline: .seconds(settings.pullTimeout))
        var problem: String?
        if response.status != 200 {
            problem = DockerAPI.message(in: response)
        } else {
            // A 200 pull streams progress; a failure arrives as a line with "error".
            var splitter = LineSplitter()
            var lines = splitter.feed(response.body)
            if let last = splitter.finish() { lines.append(last) }
            for line in lines {
                if let error = (try? JSONValue(parsing: line))?["error"]?.stringValue { problem = error }
            }
        }
        guard let problem else { return }
        let refused = ["unauthorized", "authentication required", "no basic auth credentials", "denied", "forbidden", "401", "403"]
            .contains { problem.lowercased().contains($0) }
        if refused {
            let who = credentials.map { "the credentials of user \($0.username)" } ?? "anonymous access (no registry_auth for \(image.registryAddress))"
            throw PluginError(
                .permissionDenied,
                "host \(host): execution \(execution): registry \(image.registryAddress) refused \(who) for image \(image): \(problem)")
        }
        throw PluginError(.imageNotFound, "host \(host): execution \(execution): image \(image) cannot be pulled: \(problem)")
    }

    /// Base64 with the URL alphabet, as `X-Registry-Auth` wants.
    static func base64URL(_ bytes: [UInt8]) -> String {
        String(Base64.encode(bytes).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
