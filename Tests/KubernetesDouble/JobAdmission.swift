import BerthPluginKit

/// Turns the body of `POST .../jobs` into a stored Job as the API server does: decode (400 for
/// a wrong type or quantity), default, validate (422 naming every field), and add the labels
/// and selector the Job controller relies on.
struct JobAdmission {
    /// The namespace of the request.
    let namespace: String
    /// The uid the new Job gets.
    let uid: String
    /// A random suffix for `generateName`.
    let suffix: String
    /// When it is admitted.
    let now: Timestamp

    let reader = BodyReader(kind: "Job")

    /// The Job, not yet stored.
    func admit(_ body: JSONValue) throws(APIStatus) -> JobRecord {
        guard let object = body.objectValue else { throw reader.unusable("the body is not a JSON object") }
        if let apiVersion = try reader.string(object["apiVersion"], "Job.apiVersion"), apiVersion != "batch/v1" {
            throw APIStatus.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (batch/v1)")
        }
        if let kind = try reader.string(object["kind"], "Job.kind"), kind != "Job" {
            throw APIStatus.badRequest("the kind in the data (\(kind)) does not match the expected kind (Job)")
        }
        let metadata = try reader.object(object["metadata"], "Job.metadata") ?? [:]
        if let namespace = try reader.string(metadata["namespace"], "Job.metadata.namespace"), !namespace.isEmpty,
           namespace != self.namespace
        {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        var name = try reader.string(metadata["name"], "Job.metadata.name") ?? ""
        let generateName = try reader.string(metadata["generateName"], "Job.metadata.generateName")
        if name.isEmpty, let generateName, !generateName.isEmpty {
            name = String(generateName.prefix(58)) + suffix
        }
        var labels = try reader.stringMap(metadata["labels"], "Job.metadata.labels") ?? [:]
        let annotations = try reader.stringMap(metadata["annotations"], "Job.metadata.annotations") ?? [:]

        var spec = try reader.object(object["spec"], "Job.spec") ?? [:]
        let parallelism = try reader.int(spec["parallelism"], "JobSpec.spec.parallelism") ?? 1
        let completions = try reader.int(spec["completions"], "JobSpec.spec.completions") ?? 1
        let activeDeadline = try reader.int(spec["activeDeadlineSeconds"], "JobSpec.spec.activeDeadlineSeconds")
        let backoffLimit = try reader.int(spec["backoffLimit"], "JobSpec.spec.backoffLimit") ?? 6
        let ttl = try reader.int(spec["ttlSecondsAfterFinished"], "JobSpec.spec.ttlSecondsAfterFinished")
        _ = try reader.bool(spec["suspend"], "JobSpec.spec.suspend")
        let template = try reader.object(spec["template"], "JobSpec.spec.template") ?? [:]
        let templateMetadata = try reader.object(template["metadata"], "PodTemplateSpec.spec.template.metadata") ?? [:]
        var templateLabels = try reader.stringMap(templateMetadata["labels"], "PodTemplateSpec.spec.template.metadata.labels") ?? [:]
        let templateAnnotations = try reader.stringMap(
            templateMetadata["annotations"], "PodTemplateSpec.spec.template.metadata.annotations") ?? [:]
        var podSpec = try reader.object(template["spec"], "PodTemplateSpec.spec.template.spec") ?? [:]
        let containers = try reader.array(podSpec["containers"], "PodSpec.spec.template.spec.containers") ?? []

        var causes: [APIStatus.Cause] = []
        // Defaults, then validation, as the API server orders them.
        let userLabels = templateLabels
        for (key, value) in [
            ("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name), ("controller-uid", uid),
            ("job-name", name),
        ] {
            templateLabels[key] = value
        }
        if labels.isEmpty { labels = userLabels.isEmpty ? templateLabels : userLabels }

        if name.isEmpty {
            causes.append(.required("metadata.name", "name or generateName is required"))
        } else if !Labels.isSubdomain(name) {
            causes.append(.invalid("metadata.name", "\"\(name)\"", Labels.subdomainRules))
        }
        causes += Labels.causes(labels, field: "metadata.labels")
        for (field, value) in [
            ("spec.parallelism", parallelism), ("spec.completions", completions), ("spec.activeDeadlineSeconds", activeDeadline),
            ("spec.backoffLimit", backoffLimit), ("spec.ttlSecondsAfterFinished", ttl),
        ] {
            if let value, value < 0 { causes.append(.invalid(field, String(value), "must be greater than or equal to 0")) }
        }
        causes += Labels.causes(templateLabels, field: "spec.template.metadata.labels")

        let restartPolicy = try reader.string(podSpec["restartPolicy"], "PodSpec.spec.template.spec.restartPolicy") ?? "Always"
        podSpec["restartPolicy"] = .string(restartPolicy)
        if restartPolicy != "OnFailure" && restartPolicy != "Never" {
            causes.append(.notSupported("spec.template.spec.restartPolicy", restartPolicy, ["OnFailure", "Never"]))
        }
        let podDeadline = try reader.int(podSpec["activeDeadlineSeconds"], "PodSpec.spec.template.spec.activeDeadlineSeconds")
        if let podDeadline, podDeadline < 1 {
            causes.append(.invalid(
                "spec.template.spec.activeDeadlineSeconds", String(podDeadline), "must be between 1 and 2147483647, inclusive"))
        }
        let nodeSelector = try reader.stringMap(podSpec["nodeSelector"], "PodSpec.spec.template.spec.nodeSelector") ?? [:]
        causes += Labels.causes(nodeSelector, field: "spec.template.spec.nodeSelector")
        let grace = try reader.int(
            podSpec["terminationGracePeriodSeconds"], "PodSpec.spec.template.spec.terminationGracePeriodSeconds") ?? 30
        let podSecurity = try reader.object(podSpec["securityContext"], "PodSpec.spec.template.spec.securityContext") ?? [:]
        for (key, value) in [
            ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"), ("serviceAccountName", "default"),
        ] where podSpec[key] == nil {
            podSpec[key] = .string(value)
        }
        podSpec["terminationGracePeriodSeconds"] = .number(Double(grace))
        podSpec["securityContext"] = .object(podSecurity)

        var runnable: ContainerSpec?
        var qos = "BestEffort"
        if containers.isEmpty {
            causes.append(.required("spec.template.spec.containers"))
        }
        let volumes = try readVolumes(podSpec, causes: &causes)
        var defaulted: [JSONValue] = []
        for (index, element) in containers.enumerated() {
            let field = "spec.template.spec.containers[\(index)]"
            guard var container = element.objectValue else { throw reader.typeError("PodSpec.\(field)", "object", element) }
            var read = try readContainer(&container, field: field, podSecurity: podSecurity, causes: &causes)
            read.spec.mounts = try readMounts(container, field: field, volumes: volumes, causes: &causes)
            if index == 0 {
                runnable = read.spec
                qos = read.qos
            }
            defaulted.append(.object(container))
        }
        podSpec["containers"] = .array(defaulted)
        guard causes.isEmpty, let runnable else {
            throw APIStatus.invalid(.jobs, name, causes.isEmpty ? [.required("spec.template.spec.containers")] : causes)
        }

        spec["parallelism"] = .number(Double(parallelism))
        spec["completions"] = .number(Double(completions))
        spec["backoffLimit"] = .number(Double(backoffLimit))
        spec["completionMode"] = spec["completionMode"] ?? "NonIndexed"
        spec["suspend"] = spec["suspend"] ?? false
        spec["podReplacementPolicy"] = spec["podReplacementPolicy"] ?? "TerminatingOrFailed"
        spec["manualSelector"] = nil
        spec["selector"] = ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]]
        var templateMeta: [String: JSONValue] = ["creationTimestamp": .null, "labels": JSONValue(templateLabels)]
        if !templateAnnotations.isEmpty { templateMeta["annotations"] = JSONValue(templateAnnotations) }
        spec["template"] = ["metadata": .object(templateMeta), "spec": .object(podSpec)]

        return JobRecord(
            meta: ObjectMeta(
                name: name, generateName: generateName, uid: uid, creationTimestamp: now, labels: labels,
                annotations: annotations, generation: 1),
            spec: .object(spec),
            template: PodTemplate(
                labels: templateLabels, annotations: templateAnnotations, spec: podSpec, container: runnable, qosClass: qos,
                nodeSelector: nodeSelector, terminationGracePeriodSeconds: grace, activeDeadlineSeconds: podDeadline),
            activeDeadlineSeconds: activeDeadline, ttlSecondsAfterFinished: ttl)
    }

    /// Reads, defaults and validates one container; returns what the double runs and the QoS
    /// class it gives the pod.
    private func readContainer(
        _ container: inout [String: JSONValue], field: String, podSecurity: [String: JSONValue], causes: inout [APIStatus.Cause]
    ) throws(APIStatus) -> (spec: ContainerSpec, qos: String) {
        let go = "Container.\(field)"
        let name = try reader.string(container["name"], "\(go).name") ?? ""
        if name.isEmpty {
            causes.append(.required("\(field).name"))
        } else if !Labels.isDNSLabel(name) {
            causes.append(.invalid("\(field).name", "\"\(name)\"", Labels.dnsLabelRules))
        }
        let image = try reader.string(container["image"], "\(go).image") ?? ""
        if image.isEmpty {
            causes.append(.required("\(field).image"))
        } else if image.trimmingSpaces != image {
            causes.append(.invalid("\(field).image", "\"\(image)\"", "must not have leading or trailing whitespace"))
        }
        let policy = try reader.string(container["imagePullPolicy"], "\(go).imagePullPolicy") ?? Self.defaultPullPolicy(image)
        container["imagePullPolicy"] = .string(policy)
        if !["Always", "IfNotPresent", "Never"].contains(policy) {
            causes.append(.notSupported("\(field).imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
        }
        let command = try reader.strings(container["command"], "\(go).command")
        let args = try reader.strings(container["args"], "\(go).args")
        let workingDir = try reader.string(container["workingDir"], "\(go).workingDir")
        container["terminationMessagePath"] = container["terminationMessagePath"] ?? "/dev/termination-log"
        container["terminationMessagePolicy"] = container["terminationMessagePolicy"] ?? "File"

        var env: [(name: String, source: ContainerSpec.EnvSource)] = []
        for (index, element) in (try reader.array(container["env"], "\(go).env") ?? []).enumerated() {
            let path = "\(field).env[\(index)]"
            guard let variable = element.objectValue else { throw reader.typeError("EnvVar.\(path)", "object", element) }
            let variableName = try reader.string(variable["name"], "EnvVar.\(path).name") ?? ""
            if variableName.isEmpty { causes.append(.required("\(path).name")) }
            env.append((variableName, try envSource(variable, path: path)))
        }
        var envFrom: [(kind: String, name: String, optional: Bool)] = []
        for (index, element) in (try reader.array(container["envFrom"], "\(go).envFrom") ?? []).enumerated() {
            let path = "EnvFromSource.\(field).envFrom[\(index)]"
            for (key, kind) in [("secretRef", "secret"), ("configMapRef", "configmap")] {
                if let reference = try reader.object(element[key], "\(path).\(key)") {
                    envFrom.append((
                        kind, try reader.string(reference["name"], "\(path).\(key).name") ?? "",
                        try reader.bool(reference["optional"], "\(path).\(key).optional") ?? false))
                }
            }
        }

        var resources = try reader.object(container["resources"], "\(go).resources") ?? [:]
        var limits: [String: Double] = [:]
        var requests: [String: Double] = [:]
        for (key, target) in [("limits", 0), ("requests", 1)] {
            for (resource, value) in try reader.object(resources[key], "\(go).resources.\(key)") ?? [:] {
                guard let quantity = Quantity(value) else { throw reader.unusable(Quantity.rules) }
                if quantity.value < 0 {
                    causes.append(.invalid("\(field).resources.\(key).\(resource)", "\"\(value.stringValue ?? "")\"", "must be greater than or equal to 0"))
                }
                if target == 0 { limits[resource] = quantity.value } else { requests[resource] = quantity.value }
            }
        }
        if let limitsJSON = resources["limits"], resources["requests"] == nil {
            resources["requests"] = limitsJSON
            requests = limits
        }
        for (resource, request) in requests.sorted(by: { $0.key < $1.key }) {
            if let limit = limits[resource], request > limit {
                causes.append(.invalid(
                    "\(field).resources.requests", "\"\(resources["requests"]?[resource]?.stringValue ?? String(request))\"",
                    "must be less than or equal to \(resource) limit of \(resources["limits"]?[resource]?.stringValue ?? String(limit))"))
            }
        }
        container["resources"] = .object(resources)
        let qos: String
        if limits["cpu"] != nil, limits["memory"] != nil, requests["cpu"] == limits["cpu"], requests["memory"] == limits["memory"] {
            qos = "Guaranteed"
        } else if limits.isEmpty && requests.isEmpty {
            qos = "BestEffort"
        } else {
            qos = "Burstable"
        }

        let security = try reader.object(container["securityContext"], "\(go).securityContext") ?? [:]
        let runAsUser = try reader.int(security["runAsUser"] ?? podSecurity["runAsUser"], "SecurityContext.runAsUser")
        let runAsGroup = try reader.int(security["runAsGroup"] ?? podSecurity["runAsGroup"], "SecurityContext.runAsGroup")
        let spec = ContainerSpec(
            name: name, image: image, pullPolicy: policy, command: command, args: args, env: env, envFrom: envFrom,
            workingDir: workingDir,
            memoryLimit: limits["memory"].map { Int64($0.rounded(.up)) },
            nanoCPUs: limits["cpu"].map { Int64(($0 * 1e9).rounded()) },
            runAsUser: runAsUser, runAsGroup: runAsGroup,
            readOnlyRootFilesystem: try reader.bool(security["readOnlyRootFilesystem"], "SecurityContext.readOnlyRootFilesystem") ?? false,
            noNewPrivileges: try reader.bool(security["allowPrivilegeEscalation"], "SecurityContext.allowPrivilegeEscalation") == false,
            tty: try reader.bool(container["tty"], "\(go).tty") ?? false,
            stdin: try reader.bool(container["stdin"], "\(go).stdin") ?? false)
        return (spec, qos)
    }

    private func envSource(_ variable: [String: JSONValue], path: String) throws(APIStatus) -> ContainerSpec.EnvSource {
        if let value = try reader.string(variable["value"], "EnvVar.\(path).value") { return .value(value) }
        guard let from = try reader.object(variable["valueFrom"], "EnvVar.\(path).valueFrom") else { return .value("") }
        let go = "EnvVarSource.\(path).valueFrom"
        if let field = try reader.object(from["fieldRef"], "\(go).fieldRef") {
            return .field(try reader.string(field["fieldPath"], "\(go).fieldRef.fieldPath") ?? "")
        }
        for (key, kind) in [("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")] {
            if let reference = try reader.object(from[key], "\(go).\(key)") {
                return .reference(
                    kind: kind, name: try reader.string(reference["name"], "\(go).\(key).name") ?? "",
                    optional: try reader.bool(reference["optional"], "\(go).\(key).optional") ?? false)
            }
        }
        return .unsupported("\(path).valueFrom")
    }

    /// `Always` for `:latest` or no tag, else `IfNotPresent`, as the API server defaults it.
    static func defaultPullPolicy(_ image: String) -> String {
        if image.contains("@") { return "IfNotPresent" }
        let lastComponent = image.split(separator: "/").last ?? ""
        guard let colon = lastComponent.lastIndex(of: ":") else { return "Always" }
        return lastComponent[lastComponent.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }
}
