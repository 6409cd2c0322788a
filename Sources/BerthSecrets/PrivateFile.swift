import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files that hold a secret (the secrets key, the first admin token): created readable by
/// their owner only, never over an existing file.
public enum PrivateFile {
    /// Creates `path` with mode 0600 holding `text` (its folder 0700 when missing). Returns
    /// `false` when the file already exists (another process made it first).
    /// - Throws: `POSIXError` when the file cannot be created or written.
    public static func create(_ path: String, text: String) throws -> Bool {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0, errno == EEXIST { return false }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return true
    }
}
