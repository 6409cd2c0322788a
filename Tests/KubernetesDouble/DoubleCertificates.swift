import Foundation

/// The double's certificates, made with the `openssl` command in a temporary folder: a CA, a
/// server certificate for 127.0.0.1 and localhost, and a client certificate (CN=berth, O=berth).
struct DoubleCertificates: Sendable {
    /// The folder they are in; removed by ``remove()``.
    let folder: String
    /// The CA's certificate.
    let caPEM: [UInt8]
    /// The server's certificate.
    let serverCertificatePEM: [UInt8]
    /// The server's key.
    let serverKeyPEM: [UInt8]
    /// The client's certificate.
    let clientCertificatePEM: [UInt8]
    /// The client's key.
    let clientKeyPEM: [UInt8]

    /// Where the `openssl` command is.
    static let openssl = "/usr/bin/openssl"

    /// Makes the certificates in a new temporary folder.
    static func make() throws(KubernetesDoubleError) -> DoubleCertificates {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("berth-k8s-double-\(UUID().uuidString.prefix(8).lowercased())").path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n"
                .write(toFile: "\(folder)/server.ext", atomically: true, encoding: .utf8)
            try "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n"
                .write(toFile: "\(folder)/client.ext", atomically: true, encoding: .utf8)
        } catch {
            throw KubernetesDoubleError("cannot write to \(folder): \(error)")
        }
        do {
            let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]
            try run(["req", "-x509"] + key + [
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=berth-kubernetes-double-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ], in: folder)
            for (name, subject) in [("server", "/CN=kube-apiserver"), ("client", "/O=berth/CN=berth")] {
                try run(["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject], in: folder)
                try run([
                    "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", "\(name).crt", "-days", "2", "-extfile", "\(name).ext",
                ], in: folder)
            }
            func read(_ file: String) throws(KubernetesDoubleError) -> [UInt8] {
                guard let data = FileManager.default.contents(atPath: "\(folder)/\(file)") else {
                    throw KubernetesDoubleError("openssl did not write \(folder)/\(file)")
                }
                return Array(data)
            }
            return DoubleCertificates(
                folder: folder, caPEM: try read("ca.crt"), serverCertificatePEM: try read("server.crt"),
                serverKeyPEM: try read("server.key"), clientCertificatePEM: try read("client.crt"),
                clientKeyPEM: try read("client.key"))
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    /// Runs `openssl arguments` in `folder`, its output to `openssl.log` there.
    private static func run(_ arguments: [String], in folder: String) throws(KubernetesDoubleError) {
        let log = "\(folder)/openssl.log"
        guard FileManager.default.createFile(atPath: log, contents: nil), let output = FileHandle(forWritingAtPath: log) else {
            throw KubernetesDoubleError("cannot create \(log)")
        }
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw KubernetesDoubleError("cannot run \(openssl): \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw KubernetesDoubleError(
                "openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(text.suffix(500))")
        }
    }

    /// Deletes the folder.
    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }
}
