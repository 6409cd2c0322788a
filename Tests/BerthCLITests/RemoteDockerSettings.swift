import BerthTestSupport

/// The settings of a `docker-ssh` host on the test sshd (the remote engine), as YAML lines
/// indented by six spaces: the indentation of `settings` members under `hosts: - name:`.
func remoteDockerSettingsYAML() throws -> String {
    [
        "address: \(try TestEnvironment.require("BERTH_TEST_SSH_HOST"))",
        "port: \(try TestEnvironment.require("BERTH_TEST_SSH_PORT"))",
        "user: \(try TestEnvironment.require("BERTH_TEST_SSH_USER"))",
        "identity_file: \(try TestEnvironment.require("BERTH_TEST_SSH_KEY_ED25519"))",
        "known_hosts: \(try TestEnvironment.require("BERTH_TEST_SSH_KNOWN_HOSTS"))",
    ].map { "      " + $0 }.joined(separator: "\n")
}
