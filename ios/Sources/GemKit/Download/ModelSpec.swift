import Foundation

/// A model file to download: where from, how to check it, and its name in the downloader's
/// directory.
public struct ModelSpec: Sendable, Hashable, Codable {
    public var url: URL
    /// The file's SHA-256 as 64 hex digits. Without one, `trustOnFirstUse` must be set.
    public var sha256: String?
    /// The file's size, if known: lets the free-space check run before the first request.
    public var sizeBytes: Int64?
    /// The file's name in the downloader's directory: one path component.
    public var fileName: String
    /// Sent with every request, resumes included, but not to another host after a redirect:
    /// e.g. `["Authorization": "Bearer hf_..."]` for a gated Hugging Face model.
    public var headers: [String: String]
    /// Without a `sha256`: accept the first download's hash, keep it beside the file, and hold
    /// later checks and downloads of this file to it.
    public var trustOnFirstUse: Bool

    public init(
        url: URL, sha256: String?, sizeBytes: Int64? = nil, fileName: String,
        headers: [String: String] = [:], trustOnFirstUse: Bool = false
    ) {
        self.url = url
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.fileName = fileName
        self.headers = headers
        self.trustOnFirstUse = trustOnFirstUse
    }

    /// The spec's own mistakes, before anything is fetched or written.
    func validate() throws(DownloadError) {
        guard !fileName.isEmpty, fileName != ".", fileName != "..", !fileName.contains("/"),
            !fileName.contains("\0")
        else {
            throw .invalidSpec("fileName must be a plain file name, not \"\(fileName)\"")
        }
        if let sha256 {
            guard sha256.count == 64, sha256.allSatisfy(\.isHexDigit) else {
                throw .invalidSpec("sha256 must be 64 hex digits, not \"\(sha256)\"")
            }
        } else if !trustOnFirstUse {
            throw .invalidSpec("\(fileName) has no sha256: give one, or set trustOnFirstUse")
        }
        if let sizeBytes, sizeBytes < 0 {
            throw .invalidSpec("sizeBytes must not be negative")
        }
        guard url.isSecureForDownload else { throw .insecureURL(url) }
    }

    /// The hash the file must have: the spec's, or with trust on first use the one recorded
    /// when it was first downloaded.
    func expectedSHA256(recorded: DownloadFiles.Verified?) -> String? {
        sha256?.lowercased() ?? (trustOnFirstUse ? recorded?.sha256 : nil)
    }
}

extension URL {
    /// HTTPS, or plain HTTP to this device (a test server): nothing else may carry a model.
    var isSecureForDownload: Bool {
        switch scheme?.lowercased() {
        case "https": return true
        case "http":
            guard let host = host?.lowercased() else { return false }
            let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
            let loopbackIPv4 = octets.count == 4 && octets.allSatisfy { $0 != nil } && octets[0] == 127
            return loopbackIPv4 || host == "localhost" || host == "::1" || host == "[::1]"
        default: return false
        }
    }
}
