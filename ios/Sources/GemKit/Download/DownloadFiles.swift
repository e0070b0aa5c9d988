import Foundation
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// The files of one spec in the downloader's directory: the model, its `.part` while it
/// downloads, and two small JSON records: how to resume the part, and what was verified.
struct DownloadFiles: Sendable {
    let model: URL
    let part: URL
    /// `Resume`, written when a response starts the part.
    let resumeRecord: URL
    /// `Verified`, written when the model is moved into place.
    let verifiedRecord: URL

    init(directory: URL, fileName: String) {
        model = directory.appendingPathComponent(fileName)
        part = directory.appendingPathComponent(fileName + ".part")
        resumeRecord = directory.appendingPathComponent(fileName + ".part.json")
        verifiedRecord = directory.appendingPathComponent(fileName + ".verified.json")
    }

    /// What a resumed request must match: the same URL, and the same file on the server (its
    /// strong ETag, else Last-Modified, sent as If-Range).
    struct Resume: Codable, Equatable {
        var url: URL
        var validator: String
        var totalBytes: Int64?
    }

    /// The model's SHA-256 when it was checked, and its size and modification time then: while
    /// they match, the file is the one checked, with no need to hash it again.
    struct Verified: Codable, Equatable {
        var sha256: String
        var size: Int64
        var modified: Double
    }

    func readResume() -> Resume? { read(Resume.self, from: resumeRecord) }
    func writeResume(_ resume: Resume) throws { try write(resume, to: resumeRecord) }
    func readVerified() -> Verified? { read(Verified.self, from: verifiedRecord) }

    /// Records `sha256` as the verified hash of `file` (the model, or the part about to become
    /// it: a rename keeps the size and modification time).
    func writeVerified(sha256: String, of file: URL) throws {
        let (size, modified) = try sizeAndModified(file)
        try write(Verified(sha256: sha256, size: size, modified: modified), to: verifiedRecord)
    }

    /// Whether the model on disk is still the file `verified` describes.
    func modelMatches(_ verified: Verified) -> Bool {
        guard let (size, modified) = try? sizeAndModified(model) else { return false }
        return size == verified.size && modified == verified.modified
    }

    var partSize: Int64 { (try? sizeAndModified(part).size) ?? 0 }
    var modelExists: Bool { FileManager.default.fileExists(atPath: model.path) }

    func removePart() throws {
        try remove(part)
        try forgetResume()
    }

    func forgetResume() throws { try remove(resumeRecord) }
    func forgetVerified() throws { try remove(verifiedRecord) }

    func removeAll() throws {
        try removePart()
        try forgetVerified()
        try remove(model)
    }

    /// Moves the part, whose hash is `sha256`, into place if it is the `expected` one (none yet:
    /// trust on first use), or deletes it.
    func installPart(sha256: String, expected: String?) throws {
        if let expected, sha256 != expected {
            try removePart()
            throw DownloadError.checksumMismatch(expected: expected, actual: sha256)
        }
        try writeVerified(sha256: sha256, of: part)
        try renamePartToModel()
    }

    /// One rename, replacing any older model: an observer sees the old file or the new one,
    /// never half of either.
    private func renamePartToModel() throws {
        guard rename(part.path, model.path) == 0 else {
            throw DownloadError.fileSystem("cannot move \(part.path) to \(model.path): \(String(cString: strerror(errno)))")
        }
        try remove(resumeRecord)
    }

    private func sizeAndModified(_ file: URL) throws -> (size: Int64, modified: Double) {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return (size, modified)
    }

    private func remove(_ file: URL) throws {
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        try FileManager.default.removeItem(at: file)
    }

    /// Nil when missing or unreadable: a lost record only costs a fresh start or a re-hash.
    private func read<T: Decodable>(_ type: T.Type, from file: URL) -> T? {
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }

    private func write<T: Encodable>(_ value: T, to file: URL) throws {
        try JSONEncoder().encode(value).write(to: file, options: .atomic)
    }
}
