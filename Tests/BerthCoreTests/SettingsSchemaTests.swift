import BerthCore
import BerthPluginKit
import Testing

@Suite("Settings validation against a plugin's schema")
struct SettingsSchemaTests {
    let schema = SettingsSchema([
        "type": "object",
        "properties": [
            "socket_path": ["type": "string", "minLength": 1],
            "max_concurrent": ["type": "integer", "minimum": 1],
            "pull_policy": ["enum": ["always", "never"]],
            "auth": ["type": "object", "additionalProperties": ["type": "object", "required": ["user"]]],
            "tags": ["type": "array", "items": ["type": "string"]],
        ],
        "required": ["socket_path"],
        "additionalProperties": false,
    ])

    @Test("valid settings pass")
    func valid() {
        #expect(schema.violations(of: ["socket_path": "/x", "max_concurrent": 2, "auth": ["r": ["user": "u"]]]).isEmpty)
    }

    static let cases: [(JSONValue, String)] = [
        (["socket_path": 1], "settings.socket_path: expected string, found number"),
        (["socket_path": "/x", "max_concurent": 2], "settings.max_concurent: unknown key"),
        (["socket_path": "/x", "max_concurrent": 0], "settings.max_concurrent: must be at least 1"),
        (["socket_path": "/x", "max_concurrent": 1.5], "settings.max_concurrent: expected integer"),
        (["socket_path": "/x", "pull_policy": "maybe"], "settings.pull_policy: \"maybe\" is not one of"),
        (["socket_path": "/x", "auth": ["r": [:]]], "settings.auth.r.user: is required"),
        (["socket_path": "/x", "tags": ["a", 1]], "settings.tags[1]: expected string"),
        ([:], "settings.socket_path: is required"),
        ("nope", "settings: expected object"),
    ]

    @Test("each violation names the key", arguments: cases)
    func violation(settings: JSONValue, expected: String) {
        let found = schema.violations(of: settings)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix(expected) == true, "got \(found)")
    }
}
