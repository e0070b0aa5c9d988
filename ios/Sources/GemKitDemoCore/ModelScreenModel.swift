import Foundation
import GemKit
import Observation

/// The model screen: download with progress, cancel, verify, delete, and whether the model fits
/// in this device's memory, then load it for the chat and grammar screens.
@MainActor @Observable
public final class ModelScreenModel {
    public let spec: ModelSpec
    public private(set) var availability: ModelAvailability = .notDownloaded
    /// The downloaded file's needs beside the memory available, once it is on the device.
    public private(set) var memory: MemoryFit?
    /// The result of the last `verify()`: whether the file on disk hashes to the spec's SHA-256.
    public private(set) var verified: Bool?
    public private(set) var isLoading = false
    public private(set) var error: GemmaError?
    /// Set by `load()`, for the other screens.
    public private(set) var model: GemmaModel?

    private let downloader: ModelDownloader
    private let loadOptions: LoadOptions
    private var download: Task<Void, Never>?

    /// By default the model loads with a chat-sized context, shorter where the device is short of
    /// memory.
    public init(
        downloader: ModelDownloader, spec: ModelSpec = .gemma3_270mInstruct,
        loadOptions: LoadOptions = LoadOptions(contextLength: 2048, shrinkContextToFit: true)
    ) {
        self.downloader = downloader
        self.spec = spec
        self.loadOptions = loadOptions
        availability = downloader.availability(of: spec)
    }

    /// Follows the model's availability until the calling task ends (a view's `.task`), and
    /// checks the memory once the file is there.
    public func follow() async {
        for await availability in downloader.availabilityUpdates(of: spec) {
            self.availability = availability
            if case .available(let file) = availability, memory == nil {
                await checkMemory(file)
            }
        }
    }

    /// Starts the download (resuming a part kept from before); `availability` shows its progress.
    public func startDownload() {
        guard download == nil else { return }
        error = nil
        download = Task {
            for await status in downloader.download(spec) {
                if case .failed(let failure) = status { error = .download(failure) }
            }
            download = nil
        }
    }

    /// Stops the download and keeps what arrived, for a resume.
    public func cancelDownload() {
        download?.cancel()
    }

    /// Hashes the file on disk again, against the spec; a file that fails is no longer available.
    public func verify() async {
        do {
            verified = try await downloader.verify(spec)
        } catch {
            self.error = .download(error)
        }
    }

    /// Deletes the model, after cancelling its download; the loaded model, if any, is let go.
    public func delete() async {
        model = nil
        memory = nil
        verified = nil
        do {
            try await downloader.delete(spec)
        } catch {
            self.error = .download(error)
        }
    }

    /// Loads the model for the other screens.
    public func load() async {
        guard case .available(let file) = availability, model == nil, !isLoading else { return }
        isLoading = true
        defer { isLoading = false }
        do {
            model = try await GemmaModel.load(from: file, options: loadOptions)
        } catch {
            self.error = error
        }
    }

    private func checkMemory(_ file: URL) async {
        do {
            let estimate = try await GemmaModel.estimate(of: file, options: loadOptions)
            memory = MemoryFit(estimate: estimate, available: loadOptions.availableMemory())
        } catch {
            self.error = error
        }
    }
}

/// What a model needs beside what the device has.
public struct MemoryFit: Sendable, Equatable {
    public let estimate: MemoryEstimate
    /// Nil where the system gives no figure (not iOS, the simulator).
    public let available: UInt64?

    /// Whether the model and one chat fit; nil when the memory available is unknown.
    public var fits: Bool? { available.map { estimate.anonymousBytes <= $0 } }
}
