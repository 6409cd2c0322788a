import BerthPluginKit
import BerthYAML
import HTTPTypes
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a job's config from a `config_path`: only a regular file inside the configured folder
/// (after `..` and symbolic links are resolved), at most `maxBytes`, holding one JSON or YAML
/// object. The job services read these paths from a folder they shared with the hosts; Berth
/// reads it on the server and hands the content to the container, so no host needs the folder.
enum JobConfigFile {
    /// The object in `path`.
    /// - Parameters:
    ///   - path: Relative to `folder`, or absolute inside it.
    ///   - folder: The configured folder; `nil` refuses every path.
    ///   - maxBytes: The largest file accepted.
    /// - Throws: ``Problem`` 422 with field `config_path`: `config_path_unavailable`,
    ///   `config_path_outside_folder`, `config_not_found`, `config_too_large`, `invalid_config`.
    static func read(_ path: String, folder: String?, maxBytes: Int) throws(Problem) -> [String: JSONValue] {
        guard let folder else {
            throw Problem.invalid(
                "config_path", "this server reads no config files (job_service.config_folder is not set); send the config inline as 'config'",
                code: "config_path_unavailable")
        }
        guard let root = realPath(folder) else {
            throw Problem(.serviceUnavailable, code: "config_folder_unavailable", title: "Config folder unavailable",
                          detail: "the server's config folder cannot be read")
        }
        let outside = Problem.invalid("config_path", "'\(path)' is not inside the config folder", code: "config_path_outside_folder")
        let joined = path.hasPrefix("/") ? path : root + "/" + path
        // Refuse an escape by `..` before touching the file system, so its answer says nothing
        // about what exists outside the folder.
        guard contains(root, URL(fileURLWithPath: joined).standardized.path) else { throw outside }
        guard let resolved = realPath(joined) else {
            throw Problem.invalid("config_path", "no file '\(path)' in the config folder", code: "config_not_found")
        }
        guard contains(root, resolved) else { throw outside }
        var status = stat()
        guard stat(resolved, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw Problem.invalid("config_path", "'\(path)' is not a regular file", code: "config_not_found")
        }
        guard Int(status.st_size) <= maxBytes else {
            throw Problem.invalid("config_path", "'\(path)' has \(status.st_size) bytes; at most \(maxBytes) are taken", code: "config_too_large")
        }
        guard let data = FileManager.default.contents(atPath: resolved), data.count <= maxBytes else {
            throw Problem.invalid("config_path", "'\(path)' cannot be read", code: "config_not_found")
        }
        let value: JSONValue
        do {
            if resolved.hasSuffix(".json") {
                value = try JSONValue(parsing: Array(data))
            } else {
                guard let text = String(data: data, encoding: .utf8) else { throw YAMLError(file: path, location: "", reason: "not UTF-8 text") }
                value = try JSONValue(yaml: text, file: path)
            }
        } catch {
            throw Problem.invalid("config_path", "'\(path)' is not a JSON or YAML object: \(error)", code: "invalid_config")
        }
        guard case .object(let members) = value else {
            throw Problem.invalid("config_path", "'\(path)' must hold an object (key: value pairs), not \(value.typeName)", code: "invalid_config")
        }
        guard !value.containsNUL else {
            throw Problem.invalid("config_path", "'\(path)' must not contain NUL characters", code: "invalid_config")
        }
        return members
    }

    private static func contains(_ root: String, _ path: String) -> Bool {
        path.hasPrefix(root == "/" ? "/" : root + "/")
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
