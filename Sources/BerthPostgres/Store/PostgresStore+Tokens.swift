public import BerthCore
public import Foundation

extension PostgresStore {
    private static let tokenColumns = """
        id, name, owner, role, berth_us(created_at) AS created_us, berth_us(last_used_at) AS used_us,
        berth_us(expires_at) AS expires_us, berth_us(revoked_at) AS revoked_us
        """

    /// Inserts a token.
    public func createToken(_ token: NewAPIToken) async throws(StoreError) -> APIToken {
        try await perform("create_token") {
            try await pool.withConnection { connection in
                try Self.decodeToken(try await connection.query(
                    """
                    INSERT INTO api_tokens (id, name, owner, token_hash, role, expires_at)
                    VALUES ($1, $2, $3, $4, $5, berth_ts($6::bigint)) RETURNING \(Self.tokenColumns)
                    """,
                    Self.bindings(token)
                ).first)
            }
        }
    }

    /// Inserts the token unless any exists, under a transaction-level advisory lock so that two
    /// servers starting at once do not both insert.
    public func createFirstToken(_ token: NewAPIToken) async throws(StoreError) -> APIToken? {
        try await perform("create_first_token") {
            try await pool.withTransaction { connection in
                try await connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [PostgresBind(Self.firstTokenLockKey)])
                let rows = try await connection.query(
                    """
                    INSERT INTO api_tokens (id, name, owner, token_hash, role, expires_at)
                    SELECT $1, $2, $3, $4, $5, berth_ts($6::bigint) WHERE NOT EXISTS (SELECT 1 FROM api_tokens)
                    RETURNING \(Self.tokenColumns)
                    """,
                    Self.bindings(token)
                )
                return try rows.first.map { try Self.decodeToken($0) }
            }
        }
    }

    /// The token with this id and its secret's hash.
    public func tokenCredential(id: UUID) async throws(StoreError) -> (token: APIToken, secretHash: String)? {
        try await perform("get_token") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("SELECT \(Self.tokenColumns), token_hash FROM api_tokens WHERE id = $1", [PostgresBind(id)])
            }
            guard let row = rows.first else { return nil }
            return (try Self.decodeToken(row), try row.string("token_hash"))
        }
    }

    /// Every token, newest first.
    public func tokens() async throws(StoreError) -> [APIToken] {
        try await perform("list_tokens") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("SELECT \(Self.tokenColumns) FROM api_tokens ORDER BY created_at DESC, id DESC")
            }
            return try rows.map { try Self.decodeToken($0) }
        }
    }

    /// Sets `revoked_at` once.
    public func revokeToken(id: UUID) async throws(StoreError) -> APIToken? {
        try await perform("revoke_token") {
            // The notification is sent with the change (both or neither), and lets every server's
            // token cache drop the token.
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    WITH revoked AS (
                        UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING \(Self.tokenColumns)
                    )
                    SELECT revoked.*, pg_notify($2, $3) FROM revoked
                    """,
                    [PostgresBind(id), PostgresBind(StoreNotification.tokensChannel), PostgresBind(id.uuidString.lowercased())]
                )
            }
            return try rows.first.map { try Self.decodeToken($0) }
        }
    }

    /// Sets `last_used_at` to now.
    public func markTokenUsed(id: UUID) async throws(StoreError) {
        try await perform("mark_token_used") {
            try await pool.withConnection { connection in
                try await connection.query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", [PostgresBind(id)])
            }
        }
    }

    /// The advisory-lock key that serializes first-token creation (`"berth_tk"` as ASCII bytes).
    static let firstTokenLockKey: Int64 = 0x6265_7274_685f_746b

    private static func bindings(_ token: NewAPIToken) -> [PostgresBind?] {
        [
            PostgresBind(token.id), PostgresBind(token.name), PostgresBind(token.owner), PostgresBind(token.hash),
            PostgresBind(token.role.rawValue), token.expiresAt.map { PostgresBind(micros: $0) },
        ]
    }

    private static func decodeToken(_ row: PostgresRow?) throws -> APIToken {
        guard let row else { throw PostgresError(code: .decodingFailed, message: "no token row returned") }
        let roleText = try row.string("role")
        guard let role = APIRole(rawValue: roleText) else {
            throw PostgresError(code: .decodingFailed, message: "unknown token role \"\(roleText)\"")
        }
        return APIToken(
            id: try ExecutionRow.required(row.uuid("id"), "id"),
            name: try row.string("name"),
            owner: try row.string("owner"),
            role: role,
            createdAt: try ExecutionRow.required(row.date(micros: "created_us"), "created_us"),
            lastUsedAt: try row.date(micros: "used_us"),
            expiresAt: try row.date(micros: "expires_us"),
            revokedAt: try row.date(micros: "revoked_us"))
    }
}
