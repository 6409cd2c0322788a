public import BerthCore
import BerthPluginKit
import Foundation

extension PostgresStore {
    private static let templateColumns = """
        name, version, description, spec, parameters_schema, created_by,
        berth_us(created_at) AS created_us, berth_us(deprecated_at) AS deprecated_us, deprecation_reason
        """

    /// Inserts the next version of the template's name. Writers of one name are serialized by
    /// a transaction-level advisory lock on it, so each gets the version after the last.
    public func createTemplate(_ new: NewExecutionTemplate) async throws(StoreError) -> ExecutionTemplate {
        try await perform("create_template") {
            try await pool.withTransaction { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('berth.template:' || $1))", [PostgresBind(new.name)])
                let rows = try await connection.query(
                    """
                    INSERT INTO execution_templates (name, version, description, spec, parameters_schema, created_by)
                    SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM execution_templates WHERE name = $1
                    RETURNING \(Self.templateColumns)
                    """,
                    [
                        PostgresBind(new.name), SQLValues.optional(new.description) { PostgresBind($0) },
                        PostgresBind(JSONValue.object(new.spec).jsonText), SQLValues.optional(new.parametersSchema) { PostgresBind($0.jsonText) },
                        PostgresBind(new.createdBy),
                    ])
                guard let row = rows.first else { throw PostgresError(code: .decodingFailed, message: "the insert returned no template") }
                return try Self.decodeTemplate(row)
            }
        }
    }

    /// The version asked for, or the newest one not deprecated.
    public func template(name: String, version: Int?) async throws(StoreError) -> ExecutionTemplate? {
        try await perform("get_template") {
            let rows = try await pool.withConnection { connection in
                if let version {
                    try await connection.query(
                        "SELECT \(Self.templateColumns) FROM execution_templates WHERE name = $1 AND version = $2",
                        [PostgresBind(name), PostgresBind(version)])
                } else {
                    try await connection.query(
                        """
                        SELECT \(Self.templateColumns) FROM execution_templates
                        WHERE name = $1 AND deprecated_at IS NULL ORDER BY version DESC LIMIT 1
                        """,
                        [PostgresBind(name)])
                }
            }
            return try rows.first.map(Self.decodeTemplate)
        }
    }

    /// Every version, by name, newest first.
    public func templates(name: String?) async throws(StoreError) -> [ExecutionTemplate] {
        try await perform("list_templates") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    "SELECT \(Self.templateColumns) FROM execution_templates WHERE $1::text IS NULL OR name = $1 ORDER BY name, version DESC",
                    [SQLValues.optional(name) { PostgresBind($0) }])
            }
            return try rows.map(Self.decodeTemplate)
        }
    }

    /// Sets `deprecated_at` and the reason once.
    public func deprecateTemplate(name: String, version: Int, reason: String) async throws(StoreError) -> ExecutionTemplate? {
        try await perform("deprecate_template") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE execution_templates
                    SET deprecated_at = COALESCE(deprecated_at, now()), deprecation_reason = COALESCE(deprecation_reason, $3)
                    WHERE name = $1 AND version = $2 RETURNING \(Self.templateColumns)
                    """,
                    [PostgresBind(name), PostgresBind(version), PostgresBind(reason)])
            }
            return try rows.first.map(Self.decodeTemplate)
        }
    }

    private static func decodeTemplate(_ row: PostgresRow) throws -> ExecutionTemplate {
        let spec = try JSONValue(parsing: try row.string("spec"))
        let schema = try row.text("parameters_schema").map { try JSONValue(parsing: $0) }
        return ExecutionTemplate(
            name: try row.string("name"), version: Int(try row.requiredInt64("version")), description: try row.text("description"),
            spec: spec.objectValue ?? [:], parametersSchema: schema, createdBy: try row.string("created_by"),
            createdAt: try ExecutionRow.required(row.date(micros: "created_us"), "created_us"),
            deprecatedAt: try row.date(micros: "deprecated_us"), deprecationReason: try row.text("deprecation_reason"))
    }
}
