// ModelAvailability through real downloads from the fault server: not downloaded, downloading
// with progress, available, failed, verified again, deleted.
import Foundation
@testable import GemKit
import XCTest

final class AvailabilityTests: DownloadTestCase {
    let file = "synthetic-300000.bin"
    var model: URL { directory.appendingPathComponent("model.gguf") }

    func spec(_ url: URL, sha256: String) -> ModelSpec {
        ModelSpec(url: url, sha256: sha256, sizeBytes: 300000, fileName: "model.gguf")
    }

    /// Every availability `loader` reports for `spec` while `work` runs, until `last` comes.
    func availabilities(
        _ loader: ModelDownloader, _ spec: ModelSpec, until last: ModelAvailability, while work: () async -> Void
    ) async -> [ModelAvailability] {
        let updates = loader.availabilityUpdates(of: spec)  // watching from now on
        let watching = Task {
            var seen: [ModelAvailability] = []
            for await availability in updates {
                seen.append(availability)
                if seen.count > 1, availability == last { break }
            }
            return seen
        }
        await work()
        return await watching.value
    }

    func testADownloadGoesFromNotDownloadedThroughProgressToAvailableAndBackWhenDeleted() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("slow/1000000", file: file), sha256: digest.sha256)
        let loader = downloader()
        XCTAssertEqual(.notDownloaded, loader.availability(of: model))
        let seen = await availabilities(loader, model, until: .available(self.model)) {
            _ = await statuses(loader.download(model))
        }
        XCTAssertEqual(.notDownloaded, seen.first)
        XCTAssertEqual(.available(self.model), seen.last)
        let progress = seen.dropFirst().dropLast().map { availability -> Int64 in
            guard case .downloading(let progress) = availability else {
                XCTFail("\(availability) while downloading")
                return -1
            }
            XCTAssertEqual(300000, progress.totalBytes)
            return progress.bytes
        }
        XCTAssertEqual(progress, progress.sorted(), "the progress went back")
        XCTAssert(progress.contains { $0 > 0 && $0 < 300000 }, "no progress between start and end: \(progress)")
        XCTAssertEqual(.available(self.model), loader.availability(of: model))

        let deleted = await availabilities(loader, model, until: .notDownloaded) { try? await loader.delete(model) }
        XCTAssertEqual([.available(self.model), .notDownloaded], deleted)
        XCTAssertEqual(.notDownloaded, loader.availability(of: model))
    }

    func testAFailedDownloadIsUnavailableUntilTheNextOneStarts() async throws {
        let digest = try await server.digest(file)
        let loader = downloader()
        let wrong = spec(server.url(file: file), sha256: digest.changed_sha256)
        _ = await statuses(loader.download(wrong))
        let failure = DownloadError.checksumMismatch(expected: digest.changed_sha256, actual: digest.sha256)
        XCTAssertEqual(.unavailable(.download(failure)), loader.availability(of: wrong))

        let right = spec(server.url("slow/1000000", file: file), sha256: digest.sha256)
        var statuses = loader.download(right).makeAsyncIterator()
        guard case .downloading = loader.availability(of: right) else {
            return XCTFail("\(loader.availability(of: right)) once the next download started")
        }
        while await statuses.next() != nil {}
        XCTAssertEqual(.available(model), loader.availability(of: right))
    }

    func testVerifyHashesTheFileAgainAndAFileThatFailsIsNoLongerAvailable() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url(file: file), sha256: digest.sha256)
        let loader = downloader()
        _ = await statuses(loader.download(model))
        let isGood = try await loader.verify(model)
        XCTAssertTrue(isGood)
        // Damage the file behind the record's back, as a failing disk would: the record, made
        // again for the changed size and time, still holds the good hash.
        let handle = try FileHandle(forWritingTo: self.model)
        try handle.write(contentsOf: Data([0, 1, 2, 3]))
        try handle.close()
        try DownloadFiles(directory: directory, fileName: "model.gguf").writeVerified(sha256: digest.sha256, of: self.model)
        XCTAssertEqual(.available(self.model), loader.availability(of: model))
        let isStillGood = try await loader.verify(model)
        XCTAssertFalse(isStillGood)
        XCTAssertEqual(.notDownloaded, loader.availability(of: model))
    }
}
