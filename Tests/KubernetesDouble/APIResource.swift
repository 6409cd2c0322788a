/// A resource type the double serves, with the names the API server uses for it in paths and
/// messages.
struct APIResource: Sendable, Hashable {
    /// The plural in paths and RBAC (`jobs`).
    let plural: String
    /// The API group (`batch`; empty for the core group).
    let group: String
    /// The kind (`Job`).
    let kind: String
    /// The `apiVersion` of its objects (`batch/v1`).
    let apiVersion: String

    /// `jobs.batch` or `pods`: how messages name the resource.
    var qualifiedResource: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// `Job.batch` or `Pod`: how validation messages name the kind.
    var qualifiedKind: String { group.isEmpty ? kind : "\(kind).\(group)" }
    /// The kind of a list of these (`JobList`).
    var listKind: String { kind + "List" }

    /// `batch/v1` Jobs.
    static let jobs = APIResource(plural: "jobs", group: "batch", kind: "Job", apiVersion: "batch/v1")
    /// `v1` Pods.
    static let pods = APIResource(plural: "pods", group: "", kind: "Pod", apiVersion: "v1")
    /// `v1` ConfigMaps.
    static let configMaps = APIResource(plural: "configmaps", group: "", kind: "ConfigMap", apiVersion: "v1")
    /// `v1` Namespaces.
    static let namespaces = APIResource(plural: "namespaces", group: "", kind: "Namespace", apiVersion: "v1")
}
