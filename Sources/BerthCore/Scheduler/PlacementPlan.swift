public import Foundation

/// The scheduler's placement decision as a pure function: no database, no plugin, no clock.
///
/// Input: the queued executions in the order they must be served (priority, then age), what is
/// known of every configured host, and the default host. Output: a host for each execution
/// that can start now, and for each one that waits, a reason a user can act on.
///
/// Rules:
/// - an execution goes to its `targetHost`, else to the default host, else it waits
///   ("no target host and no default_host configured");
/// - a host that is not configured, or not healthy, takes nothing;
/// - a host takes executions while `running + placed < limit`; once it is full, every later
///   execution for it waits too. Capacity only shrinks within one plan, so a later execution
///   never jumps an earlier one for the same host.
public struct PlacementPlan: Sendable, Hashable {
    /// One queued execution, as the plan sees it.
    public struct Candidate: Sendable, Hashable {
        /// The execution's id.
        public var id: UUID
        /// The host it asked for; `nil` means the default host.
        public var targetHost: String?

        /// Creates a candidate.
        public init(id: UUID, targetHost: String?) {
            self.id = id
            self.targetHost = targetHost
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

        /// Creates a host state.
        public init(unavailable: String? = nil, limit: Int, running: Int) {
            self.unavailable = unavailable
            self.limit = limit
            self.running = running
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
}
