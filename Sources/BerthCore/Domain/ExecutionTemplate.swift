public import BerthPluginKit
public import Foundation

/// A named, versioned execution spec that callers run by name with parameters
/// (docs/templates.md). A version never changes once stored.
public struct ExecutionTemplate: Sendable, Hashable {
    /// The template's name (`solver`).
    public var name: String
    /// Its version, from 1, one more than the name's highest before it.
    public var version: Int
    /// What it does, for people.
    public var description: String?
    /// The execution fields it gives (`image`, `command`, …), as the submission object has them.
    public var spec: [String: JSONValue]
    /// The JSON Schema the parameters of a run must satisfy; nil takes none.
    public var parametersSchema: JSONValue?
    /// The owner of the token that registered it.
    public var createdBy: String
    /// When it was registered.
    public var createdAt: Date
    /// When it was deprecated: `@latest` no longer picks it, a run naming it still works.
    public var deprecatedAt: Date?
    /// Why it was deprecated.
    public var deprecationReason: String?

    /// A stored template.
    public init(
        name: String, version: Int, description: String?, spec: [String: JSONValue], parametersSchema: JSONValue?,
        createdBy: String, createdAt: Date, deprecatedAt: Date? = nil, deprecationReason: String? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.spec = spec
        self.parametersSchema = parametersSchema
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.deprecatedAt = deprecatedAt
        self.deprecationReason = deprecationReason
    }
}

/// A template to register; the Store gives it the next version of its name.
public struct NewExecutionTemplate: Sendable, Hashable {
    /// The template's name.
    public var name: String
    /// What it does.
    public var description: String?
    /// The execution fields it gives.
    public var spec: [String: JSONValue]
    /// The JSON Schema of its parameters.
    public var parametersSchema: JSONValue?
    /// The registering token's owner.
    public var createdBy: String

    /// A template to register.
    public init(name: String, description: String?, spec: [String: JSONValue], parametersSchema: JSONValue?, createdBy: String) {
        self.name = name
        self.description = description
        self.spec = spec
        self.parametersSchema = parametersSchema
        self.createdBy = createdBy
    }
}

/// Which template an execution came from.
public struct TemplateReference: Sendable, Hashable, Codable {
    /// The template's name.
    public var name: String
    /// Its version.
    public var version: Int

    /// A reference to `name` version `version`.
    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }
}
