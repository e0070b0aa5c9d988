import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a download is doing; `ModelDownloader.download` streams these and ends after `done` or
/// `failed`.
public enum DownloadStatus: Sendable, Equatable {
    /// The server began sending, from byte `resumedFrom` (0 unless a part was kept); again after
    /// each retry. `totalBytes` is nil when neither the spec nor the server gives the size.
    case started(totalBytes: Int64?, resumedFrom: Int64)
    case progress(DownloadProgress)
    /// Checking the SHA-256: of a download that has all arrived (hashed as it arrived), or of
    /// a model already in place whose record of its check is missing or stale (hashed now).
    case verifying
    /// The verified file, and its SHA-256.
    case done(URL, sha256: String)
    case failed(DownloadError)
}

public struct DownloadProgress: Sendable, Equatable {
    /// Bytes of the file on disk so far, a resumed part included.
    public var bytes: Int64
    public var totalBytes: Int64?
    /// Over the last few seconds.
    public var bytesPerSecond: Double
    /// Nil until the size and a speed are known.
    public var eta: Duration?
}

public enum DownloadError: Error, LocalizedError, Equatable {
    /// The network failed, and went on failing through every retry.
    case network(URLError)
    /// An HTTP error status other than 401 and 403 (a 5xx after every retry).
    case http(status: Int)
    /// 401 or 403: a gated model's licence not accepted, or a missing or invalid token.
    case unauthorized(status: Int)
    /// Checked before writing, counting a part already on disk.
    case insufficientStorage(needed: Int64, free: Int64)
    /// The bytes were not the expected file; they were deleted.
    case checksumMismatch(expected: String, actual: String)
    /// Plain HTTP (allowed only to this device), or another scheme, in the spec or a redirect.
    case insecureURL(URL)
    /// The server answered what was not asked: the wrong range, more bytes than it announced.
    case invalidResponse(String)
    /// The spec cannot be downloaded as written (a bad file name or hash, no hash and no trust
    /// on first use, another spec downloading to the same file).
    case invalidSpec(String)
    /// Reading or writing the download's files failed.
    case fileSystem(String)

    public var errorDescription: String? {
        switch self {
        case .network(let error):
            return "The download failed on the network (URLError \(error.code.rawValue)): \(error.localizedDescription)"
        case .http(let status):
            return "The server answered HTTP \(status)."
        case .unauthorized(let status):
            return "The server refused the download (HTTP \(status)). For a gated model, accept its "
                + "licence on the model's page, and send a valid access token in the spec's headers."
        case .insufficientStorage(let needed, let free):
            return "Not enough free storage: the download needs \(megabytes(needed)) more, "
                + "and \(megabytes(free)) are free."
        case .checksumMismatch(let expected, let actual):
            return "The downloaded file is not the expected one: its SHA-256 is \(actual), "
                + "not \(expected). It was deleted."
        case .insecureURL(let url):
            return "Refusing to download from \(url.absoluteString): only HTTPS is allowed "
                + "(plain HTTP only to this device)."
        case .invalidResponse(let what):
            return "The server's answer cannot be used: \(what)."
        case .invalidSpec(let what):
            return "Invalid model spec: \(what)."
        case .fileSystem(let what):
            return "The download's files could not be written: \(what)."
        }
    }
}
