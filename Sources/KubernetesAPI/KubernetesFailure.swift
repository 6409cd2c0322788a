public import BerthPluginKit

/// Turns an API server's error answer (a `Status` object, or whatever a proxy sent) into the
/// plugin error a user can act on.
public enum KubernetesFailure {
    /// The error for answer `status` with `body` to `verb` on `resource` (`create jobs in
    /// namespace ci`) at `server`.
    ///
    /// 401 and 403 are `permission_denied` naming the verb and resource (the Role in
    /// docs/kubernetes.md grants what is needed); 404 `not_found`; 409 a conflict (`invalid_spec`
    /// unless the caller handles it); 422 `invalid_spec` naming the fields; 429 and 5xx
    /// `unavailable` (retryable); anything else `internal`. The Status `message` is kept.
    public static func error(status: Int, body: [UInt8], verb: String, resource: String, server: String) -> PluginError {
        let object = try? JSONValue(parsing: body)
        let message = object?["message"]?.stringValue ?? String(decoding: body.prefix(300), as: UTF8.self)
        let what = "\(verb) \(resource) on \(server)"
        switch status {
        case 401:
            return PluginError(.permissionDenied, "\(what): the API server did not accept the credentials (401): \(message)")
        case 403:
            return PluginError(.permissionDenied, "\(what) is forbidden (403): \(message)")
        case 404:
            return PluginError(.notFound, "\(what): not found: \(message)")
        case 409:
            return PluginError(.invalidSpec, "\(what): conflict (409): \(message)")
        case 422:
            let causes = (object?["details"]?["causes"]?.arrayValue ?? []).compactMap { cause -> String? in
                guard let field = cause["field"]?.stringValue else { return cause["message"]?.stringValue }
                return "\(field): \(cause["message"]?.stringValue ?? "invalid")"
            }
            let detail = causes.isEmpty ? message : causes.joined(separator: "; ")
            return PluginError(.invalidSpec, "\(what) was refused as invalid (422): \(detail)")
        case 429, 500...599:
            return PluginError(.unavailable, "\(what) failed (\(status)): \(message)")
        default:
            return PluginError(.internal, "\(what) failed (\(status)): \(message)")
        }
    }
}
