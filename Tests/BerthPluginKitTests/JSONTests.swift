import BerthPluginKit
import Testing

@Suite("JSON parsing and writing")
struct JSONTests {
    @Test("round trips every kind of value")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"d\n\"e\"\\ \u00e9 \ud83d\ude00"},"empty":{},"list":[]}"#
        let value = try JSONValue(parsing: text)
        #expect(value["a"]?.arrayValue?.count == 6)
        #expect(value["a"]?.arrayValue?[2] == .number(-300))
        #expect(value["b"]?["c"]?.stringValue == "d\n\"e\"\\ é 😀")
        let again = try JSONValue(parsing: value.serialized())
        #expect(again == value)
    }

    @Test("writes sorted keys and escapes control characters")
    func writer() {
        let value: JSONValue = ["b": 1, "a": .string("x\u{01}y\t")]
        #expect(value.jsonText == #"{"a":"x\u0001y\t","b":1}"#)
        #expect(JSONValue.number(2.5).jsonText == "2.5")
        #expect(JSONValue.number(.nan).jsonText == "null")
    }

    @Test("rejects malformed input with the byte offset", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "tru", "01", "1.", "\"\\x\"", "\"\u{01}\"", "\"\\ud800\"", "{} x", "-",
    ])
    func malformed(text: String) {
        #expect(throws: JSONError.self) { _ = try JSONValue(parsing: text) }
    }

    @Test("refuses nesting deeper than 512")
    func deepNesting() {
        let text = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONError.self) { _ = try JSONValue(parsing: text) }
    }

    @Test("refuses a key given twice, naming its path, escaped spellings included", arguments: [
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":1,"\u0061":2}"#, "a"),
        (#"{"x":{"y":[{"k":1},{"k":1,"k":2}]}}"#, "x.y[1].k"),
        (#"[[0],[1,{"a":{},"a":{}}]]"#, "[1][1].a"),
    ])
    func duplicateKeys(text: String, path: String) throws {
        let error = #expect(throws: JSONError.self) { _ = try JSONValue(parsing: text) }
        #expect(error?.reason == JSONError.duplicateKey)
        #expect(error?.path == path)
    }

    @Test("a syntax error names the member or element it is in", arguments: [
        (#"{"a":{"b":tru}}"#, "a.b"),
        (#"{"a":[1,2,-]}"#, "a[2]"),
        (#"[{"s":"\x"}]"#, "[0].s"),
        (#"{"a":1,}"#, ""),
    ])
    func syntaxErrorPaths(text: String, path: String) throws {
        let error = #expect(throws: JSONError.self) { _ = try JSONValue(parsing: text) }
        #expect(error?.path == path)
        #expect(error?.location.hasPrefix("at byte ") == true)
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xC3, 0x28, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xFF, 0x22]] {
            #expect(throws: JSONError.self) { _ = try JSONValue(parsing: bytes) }
        }
    }

    @Test("integers beyond 2^53 are not integers")
    func largeIntegers() throws {
        #expect(try JSONValue(parsing: "9007199254740992").int64Value == 9_007_199_254_740_992)
        #expect(try JSONValue(parsing: "1e300").int64Value == nil)
        #expect(try JSONValue(parsing: "1.5").int64Value == nil)
    }
}

@Suite("Timestamps and base64")
struct TimestampTests {
    @Test("parses RFC 3339 with any fraction and offset")
    func parse() throws {
        let docker = try #require(Timestamp(rfc3339: "2026-11-25T11:45:09.460134973Z"))
        #expect(docker.nanosecondsSinceEpoch == 1_795_607_109_460_134_973)
        #expect(docker.rfc3339 == "2026-11-25T11:45:09.460134973Z")
        let offset = try #require(Timestamp(rfc3339: "2026-11-25T12:45:09.5+01:00"))
        #expect(offset.rfc3339 == "2026-11-25T11:45:09.5Z")
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00Z")?.nanosecondsSinceEpoch == 0)
        #expect(Timestamp(rfc3339: "1969-12-31T23:59:59.9Z")?.rfc3339 == "1969-12-31T23:59:59.9Z")
        #expect(Timestamp(rfc3339: "2024-02-29T00:00:00Z")?.rfc3339 == "2024-02-29T00:00:00Z")
        // Outside what Int64 nanoseconds hold: not a time (found by schemathesis: it used to trap).
        #expect(Timestamp(rfc3339: "0500-12-26T14:24:11+02:01") == nil)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:59Z") == nil)
        #expect(Timestamp(rfc3339: "1678-01-01T00:00:00Z") != nil)
        #expect(Timestamp(rfc3339: "2262-04-11T23:47:17Z") == nil)
        #expect(Timestamp(rfc3339: "2262-04-11T23:47:17Z", clamping: true)?.nanosecondsSinceEpoch == .max)
    }

    @Test("rejects what is not RFC 3339", arguments: [
        "", "2026-11-25", "2026-13-01T00:00:00Z", "2026-11-25T11:45:09", "2026-11-25T11:45:09.Z", "2026-11-25T11:45:09Zjunk",
    ])
    func rejects(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test("base64 round trips and rejects garbage")
    func base64() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8") == nil)
        #expect(Base64.decode("a=bc") == nil)
        #expect(Base64.decode("!!!!") == nil)
    }
}

@Suite("ABI value types")
struct ValueTypeTests {
    @Test("an execution spec round trips")
    func specRoundTrip() throws {
        let spec = ExecutionSpec(
            executionID: "e1", attempt: 2, image: "busybox:1", command: ["sh"], args: ["-c", "echo"],
            env: ["A": "1"], workingDir: "/w", labels: ["k": "v"], cpus: 1.5, memoryBytes: 1 << 30,
            networkMode: "none", pullPolicy: .always)
        #expect(try ExecutionSpec(json: spec.json) == spec)
        #expect(spec.runtimeLabels(server: "s1") == ["k": "v", "berth.execution": "e1", "berth.attempt": "2", "berth.server": "s1"])
    }

    @Test("a bad spec names the field", arguments: [
        (#"{"image":"x"}"#, "spec.execution_id"),
        (#"{"execution_id":"e","image":""}"#, "spec.image"),
        (#"{"execution_id":"e","image":"x","env":{"A":1}}"#, "spec.env.A"),
        (#"{"execution_id":"e","image":"x","args":["a",2]}"#, "spec.args[1]"),
        (#"{"execution_id":"e","image":"x","cpus":-1}"#, "spec.cpus"),
        (#"{"execution_id":"e","image":"x","pull_policy":"sometimes"}"#, "spec.pull_policy"),
        (#"{"execution_id":"e","image":"x","attempt":0}"#, "spec.attempt"),
    ])
    func badSpec(text: String, field: String) throws {
        let error = #expect(throws: JSONError.self) { _ = try ExecutionSpec(jsonBytes: Array(text.utf8)) }
        #expect(error?.location == field)
    }

    @Test("errors keep unknown codes visible as internal")
    func unknownErrorCode() throws {
        let error = try PluginError(jsonBytes: Array(#"{"code":"exploded","message":"boom"}"#.utf8))
        #expect(error.code == .internal)
        #expect(error.message.contains("exploded"))
        #expect(PluginError(.unavailable, "x").retryable)
        #expect(!PluginError(.invalidSpec, "x").retryable)
    }

    @Test("statuses, chunks, events and capacity round trip")
    func roundTrips() throws {
        let status = RuntimeStatus(
            state: .exited, exitCode: 3, reason: "OOMKilled",
            startedAt: Timestamp(nanosecondsSinceEpoch: 1_000_000_001), finishedAt: .now())
        #expect(try RuntimeStatus(json: status.json) == status)
        let chunk = LogChunk(stream: .stderr, data: [0, 255, 10], timestamp: .now())
        #expect(try LogChunk(json: chunk.json) == chunk)
        let event = BackendEvent.status(handle: RuntimeHandle(id: "c1"), labels: ["a": "b"], status: status)
        #expect(try BackendEvent(json: event.json) == event)
        let connection = BackendEvent.connection(available: false, message: "down")
        #expect(try BackendEvent(json: connection.json) == connection)
        let capacity = Capacity(maxConcurrent: 4, running: 1, cpus: 2, memoryBytes: 1024)
        #expect(try Capacity(json: capacity.json) == capacity)
    }
}
