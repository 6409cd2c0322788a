import BerthCore
import Foundation
import Testing

/// The placement decision on its own: no database, no plugin.
@Suite("Scheduler placement plan")
struct SchedulerPlacementTests {
    private typealias Candidate = PlacementPlan.Candidate
    private typealias Host = PlacementPlan.HostState

    private func queue(_ targets: [String?]) -> [Candidate] {
        targets.map { Candidate(id: UUID(), targetHost: $0) }
    }

    @Test("executions fill a host up to its limit; the rest wait with the capacity in the reason")
    func capacity() {
        let queue = queue([nil, nil, nil, nil])
        let plan = PlacementPlan.make(queue: queue, hosts: ["local": Host(limit: 4, running: 2)], defaultHost: "local")
        #expect(plan.placements == [queue[0].id: "local", queue[1].id: "local"])
        #expect(plan.waiting == [queue[2].id: "host local at capacity 4/4", queue[3].id: "host local at capacity 4/4"])
    }

    @Test("a full host places nothing")
    func full() {
        let queue = queue(["local"])
        let plan = PlacementPlan.make(queue: queue, hosts: ["local": Host(limit: 4, running: 4)], defaultHost: nil)
        #expect(plan.placements.isEmpty)
        #expect(plan.waiting[queue[0].id] == "host local at capacity 4/4")
    }

    @Test("a host over its limit (limit lowered) reports what it holds")
    func overLimit() {
        let queue = queue(["local"])
        let plan = PlacementPlan.make(queue: queue, hosts: ["local": Host(limit: 2, running: 3)], defaultHost: nil)
        #expect(plan.placements.isEmpty)
        #expect(plan.waiting[queue[0].id] == "host local at capacity 3/2")
    }

    @Test("order is kept per host: once a host is full, no later execution for it is placed")
    func orderPerHost() {
        // a(gpu) b(local) c(gpu) d(local) e(gpu): gpu has 2 slots, local 1.
        let queue = queue(["gpu", "local", "gpu", "local", "gpu"])
        let hosts = ["gpu": Host(limit: 2, running: 0), "local": Host(limit: 1, running: 0)]
        let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: nil)
        #expect(plan.placements == [queue[0].id: "gpu", queue[1].id: "local", queue[2].id: "gpu"])
        #expect(plan.waiting[queue[3].id] == "host local at capacity 1/1")
        #expect(plan.waiting[queue[4].id] == "host gpu at capacity 2/2")
    }

    @Test("a full host does not block other hosts behind it")
    func otherHostsProceed() {
        let queue = queue(["busy", "busy", "idle"])
        let hosts = ["busy": Host(limit: 1, running: 1), "idle": Host(limit: 1, running: 0)]
        let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: nil)
        #expect(plan.placements == [queue[2].id: "idle"])
        #expect(plan.waiting.count == 2)
    }

    @Test("the explicit target host wins over the default host")
    func explicitTarget() {
        let queue = queue(["gpu", nil])
        let hosts = ["gpu": Host(limit: 5, running: 0), "local": Host(limit: 5, running: 0)]
        let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: "local")
        #expect(plan.placements == [queue[0].id: "gpu", queue[1].id: "local"])
        #expect(plan.waiting.isEmpty)
    }

    @Test("no target and no default host: waits and says so")
    func noDefaultHost() {
        let queue = queue([nil, "local"])
        let plan = PlacementPlan.make(queue: queue, hosts: ["local": Host(limit: 1, running: 0)], defaultHost: nil)
        #expect(plan.placements == [queue[1].id: "local"])
        #expect(plan.waiting[queue[0].id] == "no target host and no default_host configured")
    }

    @Test("an unknown host takes nothing")
    func unknownHost() {
        let queue = queue(["nowhere", nil])
        let plan = PlacementPlan.make(queue: queue, hosts: [:], defaultHost: "missing-default")
        #expect(plan.placements.isEmpty)
        #expect(plan.waiting[queue[0].id] == "host nowhere is not configured")
        #expect(plan.waiting[queue[1].id] == "host missing-default is not configured")
    }

    @Test("an unhealthy host takes nothing and the reason carries its health message")
    func unhealthyHost() {
        let queue = queue(["gpu-box", "local"])
        let hosts = [
            "gpu-box": Host(unavailable: "connection refused", limit: 4, running: 0),
            "local": Host(limit: 4, running: 0),
        ]
        let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: nil)
        #expect(plan.placements == [queue[1].id: "local"])
        #expect(plan.waiting[queue[0].id] == "host gpu-box unreachable: connection refused")
    }

    @Test("a host with limit 0 takes nothing")
    func zeroLimit() {
        let queue = queue(["local"])
        let plan = PlacementPlan.make(queue: queue, hosts: ["local": Host(limit: 0, running: 0)], defaultHost: nil)
        #expect(plan.placements.isEmpty)
        #expect(plan.waiting[queue[0].id] == "host local at capacity 0/0")
    }

    @Test("an empty queue gives an empty plan")
    func emptyQueue() {
        let plan = PlacementPlan.make(queue: [], hosts: ["local": Host(limit: 1, running: 0)], defaultHost: "local")
        #expect(plan == PlacementPlan(placements: [:], waiting: [:]))
    }

    @Test("every candidate is either placed or waiting, never both")
    func partition() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let names = ["a", "b", "c", "d"]
            let queue = (0..<20).map { _ in Candidate(id: UUID(), targetHost: Bool.random(using: &generator) ? nil : names.randomElement()!) }
            var hosts: [String: Host] = [:]
            for name in names.dropLast() {
                hosts[name] = Host(unavailable: Int.random(in: 0..<4) == 0 ? "down" : nil, limit: Int.random(in: 0...5), running: Int.random(in: 0...5))
            }
            let defaultHost = names.randomElement()
            let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: defaultHost)
            #expect(plan.placements.count + plan.waiting.count == queue.count)
            #expect(Set(plan.placements.keys).isDisjoint(with: plan.waiting.keys))
            for (name, host) in hosts {
                let placed = plan.placements.values.filter { $0 == name }.count
                #expect(host.running + placed <= max(host.limit, host.running))
                // Order per host: no placed candidate for a host comes after a waiting one for it.
                let forHost = queue.filter { ($0.targetHost ?? defaultHost) == name }
                if let firstWaiting = forHost.firstIndex(where: { plan.waiting[$0.id] != nil }) {
                    #expect(forHost[firstWaiting...].allSatisfy { plan.placements[$0.id] == nil })
                }
            }
        }
    }

    @Test("a host selector picks the matching healthy host with the most free slots, and says why when none can")
    func hostSelector() {
        let gpu = ["gpu": "true"]
        let hosts: [String: Host] = [
            "a": Host(limit: 4, running: 3, labels: ["gpu": "true", "zone": "1"]),
            "b": Host(limit: 4, running: 1, labels: ["gpu": "true"]),
            "c": Host(limit: 8, running: 0, labels: ["gpu": "false"]),
            "d": Host(unavailable: "engine down", limit: 8, running: 0, labels: ["gpu": "true"]),
        ]
        let queue = (0..<5).map { _ in Candidate(id: UUID(), targetHost: nil, hostSelector: gpu) }
        let plan = PlacementPlan.make(queue: queue, hosts: hosts, defaultHost: "c")
        // b has 3 free, a 1: b, b, then a tie (1 and 1) goes to a by name, then b, then none.
        #expect(queue.prefix(4).map { plan.placements[$0.id] } == ["b", "b", "a", "b"])
        #expect(plan.waiting[queue[4].id] == "no host with the labels gpu=true can take it now: a at capacity 4/4; b at capacity 4/4; d unreachable: engine down")

        let none = Candidate(id: UUID(), targetHost: nil, hostSelector: ["disk": "ssd", "gpu": "true"])
        #expect(PlacementPlan.make(queue: [none], hosts: hosts, defaultHost: "c").waiting[none.id] == "no configured host has the labels disk=ssd,gpu=true")
        // Two labels must both match; the default host is not used for a selector.
        let zone = Candidate(id: UUID(), targetHost: nil, hostSelector: ["gpu": "true", "zone": "1"])
        #expect(PlacementPlan.make(queue: [zone], hosts: hosts, defaultHost: "c").placements[zone.id] == "a")
    }
}
