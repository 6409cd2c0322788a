import BerthTestSupport
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

extension PostgresTests {
    @Suite struct Executions {
        @Test func createAndGetRoundTrip() async throws {
            try await TestServer.withStore { store, _ in
                let new = sampleExecution(labels: ["team": "ml", "kind": "train"], targetHost: "gpu-box", name: "nightly")
                let created = try await store.createExecution(new)
                #expect(created.state == .queued)
                #expect(created.attempts == 0)
                let fetched = try #require(try await store.execution(id: created.id))
                #expect(fetched == created)
                #expect(fetched.name == "nightly")
                #expect(fetched.owner == "alice")
                #expect(fetched.image == new.image)
                #expect(fetched.command == ["/bin/sh", "-c"])
                #expect(fetched.args == ["echo hi"])
                #expect(fetched.env == ["A": "1", "B": "two words"])
                #expect(fetched.workingDir == "/work")
                #expect(fetched.targetHost == "gpu-box")
                #expect(fetched.labels == ["team": "ml", "kind": "train"])
                #expect(fetched.cpus == 1.5)
                #expect(fetched.memoryBytes == Int64(268_435_456))
                #expect(fetched.timeoutSeconds == 60)
                #expect(abs(fetched.createdAt.timeIntervalSinceNow) < 60)
                let events = try await store.events(of: created.id, afterSeq: nil, limit: 10)
                #expect(events.count == 1)
                #expect(events.first?.fromState == nil)
                #expect(events.first?.toState == .queued)
                #expect(try await store.execution(id: UUID()) == nil)
            }
        }

        @Test func minimalSubmissionKeepsNils() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(NewExecution(owner: "bob", image: "img"))
                let fetched = try #require(try await store.execution(id: created.id))
                #expect(fetched.command == nil)
                #expect(fetched.cpus == nil)
                #expect(fetched.labels.isEmpty)
                await #expect(throws: StoreError.self) { _ = try await store.createExecution(NewExecution(owner: "", image: "img")) }
                let duplicate = NewExecution(id: created.id, owner: "bob", image: "img")
                do {
                    _ = try await store.createExecution(duplicate)
                    Issue.record("a duplicate id was accepted")
                } catch let error as StoreError {
                    #expect(error.code == .conflict)
                    #expect(error.executionID == created.id)
                    #expect(error.query == "create_execution")
                }
            }
        }

        @Test func attemptsAreRecordedWithTheirHandle() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(sampleExecution())
                let claimed = try await store.claimQueued(host: "local", limit: 1)
                #expect(claimed.map(\.id) == [created.id])
                let handle = #"{"container": "abc123",  "v":1}"#
                try await store.recordAttempt(Attempt(executionID: created.id, number: 1, host: "local", runtimeHandle: handle))
                let execution = try #require(try await store.execution(id: created.id))
                #expect(execution.currentAttempt?.runtimeHandle == handle)
                #expect(try await store.unfinishedAttempts().map(\.executionID) == [created.id])
                try await store.finishAttempt(executionID: created.id, number: 1, at: Date())
                #expect(try await store.unfinishedAttempts().isEmpty)
                #expect(try await store.attempts(of: created.id).count == 1)
                await #expect(throws: StoreError.self) {
                    try await store.recordAttempt(Attempt(executionID: created.id, number: 2, host: "local", runtimeHandle: "not json"))
                }
            }
        }

        @Test func hostsUpsertAndList() async throws {
            try await TestServer.withStore { store, _ in
                try await store.upsertHost(HostRecord(name: "local", plugin: "docker", labels: ["gpu": "no"], capacity: 4))
                try await store.upsertHost(HostRecord(name: "a-box", plugin: "docker-ssh"))
                try await store.upsertHost(HostRecord(name: "local", plugin: "docker", labels: ["gpu": "no"], capacity: 8, status: "unavailable"))
                let hosts = try await store.hosts()
                #expect(hosts.map(\.name) == ["a-box", "local"])
                #expect(hosts[1].capacity == 8)
                #expect(hosts[1].status == "unavailable")
                #expect(hosts[1].labels == ["gpu": "no"])
            }
        }
    }
}
