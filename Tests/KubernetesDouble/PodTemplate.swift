import BerthPluginKit

/// What a Job's pods are made from: its template, read and defaulted when the Job is admitted.
struct PodTemplate: Sendable {
    /// The pods' labels (the template's, with the Job's own added).
    var labels: [String: String]
    /// The pods' annotations.
    var annotations: [String: String]
    /// The defaulted pod spec.
    var spec: [String: JSONValue]
    /// The container the double runs (the first).
    var container: ContainerSpec
    /// `status.qosClass` of the pods.
    var qosClass: String
    /// `spec.nodeSelector`.
    var nodeSelector: [String: String]
    /// `spec.terminationGracePeriodSeconds`.
    var terminationGracePeriodSeconds: Int
    /// `spec.activeDeadlineSeconds` of the pods.
    var activeDeadlineSeconds: Int?
}
