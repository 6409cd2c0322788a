/// What the server's job-service routes run. Those routes speak like the hand-written FastAPI
/// job services Berth replaces (`POST /run-simulation`, `GET /status/{id}` …; `docs/api.md`).
///
/// Those services ran one image and took only a config from their callers, so the image, its
/// command and its environment come from here, never from a request.
public struct JobServiceSettings: Sendable, Hashable {
    /// The image every job runs.
    public var image: String
    /// The command (entrypoint) of every job; `nil` keeps the image's.
    public var command: [String]?
    /// The arguments of every job.
    public var args: [String] = []
    /// The environment of every job.
    public var env: [String: String] = [:]
    /// The folder a request's `config_path` is read from (a relative path is taken inside it; an
    /// absolute one must lie inside it, symbolic links resolved). `nil`: only inline configs.
    public var configFolder: String?
    /// Each job's time limit; `nil`: none.
    public var timeoutSeconds: Int?
    /// The most bytes of output `GET /logs/{id}` returns (the end of the output; it says when it
    /// cut the beginning).
    public var maxLogResponseBytes: Int = 10 << 20

    /// Settings for jobs of `image`.
    /// - Parameter image: The image every job runs.
    public init(image: String) {
        self.image = image
    }
}
