public import Foundation

/// The scheduler's placement decision as a pure function: no database, no plugin, no clock.
///
/// Input: the queued executions in the order they must be served (priority, then age), what is
/// known of every configured host, and the default host. Output: a host for each execution
/// that can start now, and for each one that waits, a reason a user can act on.
///
/// Rules:
/// - an execution goes to its `targetHost`; else, when it has a `hostSelector`, to the matching
///   host (its labels include every selected one) that is healthy and has the most free slots
///   (ties: the first by name), or it waits saying why no match can take it; else to the
///   default host, else it waits ("no target host and no default_host configured");
/// - a host that is not configured, or not healthy, takes nothing;
/// - a host takes executions while `running + placed < limit`; once it is full, every later
///   execution for it waits too. Capacity only shrinks within one plan, so a later execution
///   never jumps an earlier one for the same host.
public struct PlacementPlan: Sendable, Hashable {
    /// One queued execution, as the plan sees it.
    public struct Candidate: Sendable, Hashable {
        /// The execution's id.
        public var id: UUID
        /// The host it asked for; `nil` means the default host (or a selected one).
        public var targetHost: String?
        /// Labels a host must have, when it names no host.
        public var hostSelector: [String: String]

        /// Creates a candidate.
        public init(id: UUID, targetHost: String?, hostSelector: [String: String] = [:]) {
            self.id = id
            self.targetHost = targetHost
            self.hostSelector = hostSelector
        }
    }

    /// What is known of one configured host.
    public struct HostState: Sendable, Hashable {
        /// `nil` when the host is healthy; otherwise why it is not (the plugin's health message,
        /// or why it failed to open).
        public var unavailable: String?
        /// How many executions it may hold at once.
        public var limit: Int
        /// How many it holds now (`scheduled`, `starting`, `running`).
        public var running: Int
        /// Its labels from configuration, for host selectors.
        public var labels: [String: String]

        /// Creates a host state.
        public init(unavailable: String? = nil, limit: Int, running: Int, labels: [String: String] = [:]) {
            self.unavailable = unavailable
            self.limit = limit
            self.running = running
            self.labels = labels
        }
    }

    /// The host chosen for each execution that can start now.
    public var placements: [UUID: String]
    /// Why each other execution waits.
    public var waiting: [UUID: String]

    /// Creates a plan from its parts.
    public init(placements: [UUID: String], waiting: [UUID: String]) {
        self.placements = placements
        self.waiting = waiting
    }

    /// Decides where the queue goes.
    /// - Parameters:
    ///   - queue: Queued executions, in the order they must be served.
    ///   - hosts: Every configured host by name.
    ///   - defaultHost: The host for executions that name none.
    public static func make(queue: [Candidate], hosts: [String: HostState], defaultHost: String?) -> PlacementPlan {
        var plan = PlacementPlan(placements: [:], waiting: [:])
        var used: [String: Int] = [:]
        for candidate in queue {
            if candidate.targetHost == nil, !candidate.hostSelector.isEmpty {
                switch select(candidate.hostSelector, hosts: hosts, used: used) {
                case .success(let name):
                    used[name, default: 0] += 1
                    plan.placements[candidate.id] = name
                case .failure(let reason):
                    plan.waiting[candidate.id] = reason.text
                }
                continue
            }
            guard let name = candidate.targetHost ?? defaultHost else {
                plan.waiting[candidate.id] = "no target host and no default_host configured"
                continue
            }
            guard let host = hosts[name] else {
                plan.waiting[candidate.id] = "host \(name) is not configured"
                continue
            }
            if let message = host.unavailable {
                plan.waiting[candidate.id] = "host \(name) unreachable: \(message)"
                continue
            }
            let holding = host.running + used[name, default: 0]
            guard holding < host.limit else {
                plan.waiting[candidate.id] = "host \(name) at capacity \(max(holding, host.running))/\(host.limit)"
                continue
            }
            used[name, default: 0] += 1
            plan.placements[candidate.id] = name
        }
        return plan
    }

    /// Whether a host with `labels` has every label of `selector`.
    public static func matches(_ selector: [String: String], labels: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Why no host was selected.
    struct NoHost: Error {
        var text: String
    }

    /// The healthy host matching `selector` with the most free slots (ties: the first by name).
    private static func select(_ selector: [String: String], hosts: [String: HostState], used: [String: Int]) -> Result<String, NoHost> {
        let wanted = selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let matching = hosts.filter { matches(selector, labels: $0.value.labels) }.sorted { $0.key < $1.key }
        guard !matching.isEmpty else { return .failure(NoHost(text: "no configured host has the labels \(wanted)")) }
        var best: (name: String, free: Int)?
        var held: [String] = []
        for (name, host) in matching {
            if let message = host.unavailable {
                held.append("\(name) unreachable: \(message)")
                continue
            }
            let holding = host.running + used[name, default: 0]
            let free = host.limit - holding
            guard free > 0 else {
                held.append("\(name) at capacity \(max(holding, host.running))/\(host.limit)")
                continue
            }
            if best == nil || free > best!.free { best = (name, free) }
        }
        if let best { return .success(best.name) }
        return .failure(NoHost(text: "no host with the labels \(wanted) can take it now: " + held.joined(separator: "; ")))
    }
}
