// The API an app uses, over the generated bindings (`Engine`, `Chat`, `Prefix`, listeners and
// handles). The Kotlin wrapper mirrors it concept for concept and mostly name for name, each in
// its platform's idiom (Swift `async` / `AsyncThrowingStream` / `@Observable`; Kotlin `suspend` /
// `Flow` / `StateFlow`); a model file's state is `ModelAvailability` here, after Foundation
// Models, and `ModelStatus` there, after ML Kit GenAI:
//
//   GemmaModel                  one loaded model file; its blocking calls run on its own serial queue
//     static load(from:options:) async throws -> GemmaModel    estimate first, then map the file
//     static estimate(of:options:) async throws -> MemoryEstimate
//     info: ModelInfo, estimate: MemoryEstimate, memoryInUse: UInt64, unloadedReason: String?
//     releaseMemory(_: MemoryRelease, reason:) async throws -> ReleasedMemory
//     respond(to: MemoryPressure, reason:) async throws -> ReleasedMemory?   the policy's entry point
//     chatSession(system:) throws -> ChatSession
//     chatPrefix(system:) async throws -> ChatPrefix;  chatSession(from: ChatPrefix) throws -> ChatSession
//     restoreChat(from: URL) async throws -> ChatSession
//     complete(_:after:options:) -> AsyncThrowingStream<ChatEvent, Error>     raw text, no template
//     textPrefix(_:) async throws -> TextPrefix
//     proofreader() -> Proofreader
//   LoadOptions                 contextLength: Int?, threads: Int?, shrinkContextToFit = false,
//                               availableMemory: () -> UInt64?  (iOS: os_proc_available_memory),
//                               memoryPolicy: MemoryPolicy? = .default  (nil: observe nothing)
//   MemoryPressure              .hidden, .low, .critical;  MemoryPolicy.default: caches, caches, model
//   ChatSession                 one conversation (its own KV cache); observable
//     send(_:options:) -> AsyncThrowingStream<ChatEvent, Error>   ending the stream cancels the reply
//     respond(to:options:) async throws -> Reply                  task cancellation cancels the reply
//     isResponding: Bool, history: [Message]                     observable
//     save(to: URL) async throws
//   ChatEvent                   delta: String, text: String (so far), reply: Reply? (last event only)
//   GenerationOptions           maxTokens = 256, sampling = Sampling(), stop = [], whenBusy = .wait | .fail
//   Proofreader                 proofread(_:) async throws -> Correction   (original, corrected, segments)
//   ModelAvailability           .available(URL), .notDownloaded, .downloading(DownloadProgress),
//                               .unavailable(GemmaError); ModelDownloader.availability(of:),
//                               availabilityUpdates(of:)
//   GemmaError                  io, invalidModel, unsupportedModel, invalidArgument,
//                               contextFull(tokens:contextSize:), outOfMemory, busy, invalidChatFile,
//                               internal, notEnoughMemory(needed:available:), download(DownloadError)
//
// Everything throws `GemmaError` only (task cancellation aside: `CancellationError`). A model's
// memory is freed when the model and every session, prefix and proofreader made from it are
// released; a session released mid-reply cancels the reply.
import Foundation

/// A Gemma model loaded from one GGUF file, shared by its chats, completions and proofreader.
/// The engine runs one request at a time on its own thread; the model's other blocking work
/// (loading, prefills, saving, restoring, proofreading) runs on a serial queue of its own, never
/// on the caller's actor or Swift's cooperative pool.
///
/// Memory pressure: while it lives, the model follows `LoadOptions.memoryPolicy` on the system's
/// signals (the memory warning, entering the background, the memory-pressure source): by default
/// it frees idle sessions' KV caches (written to the caches directory, under `gemkit`) and
/// prefixes on a warning or in the background, and unloads the model at critical pressure.
/// Nothing needs doing afterwards: the next use loads what it needs again, and each session
/// continues as if nothing had happened. `releaseMemory` does the same on the app's own terms.
public final class GemmaModel: Sendable {
    let engine: Engine
    private let queue: DispatchQueue
    /// Releases run one at a time, off the model's queue, so that unloading can cancel a
    /// proofread running there.
    private let releaseQueue: DispatchQueue
    private let policy: MemoryPolicy?
    private let watch = MemoryPressureWatch()
    public let info: ModelInfo
    /// What the model and one chat were estimated to take before loading (the shrunk context's,
    /// if it was shrunk to fit).
    public let estimate: MemoryEstimate

    private init(engine: Engine, queue: DispatchQueue, estimate: MemoryEstimate, policy: MemoryPolicy?) throws {
        self.engine = engine
        self.queue = queue
        releaseQueue = DispatchQueue(label: "\(queue.label).release", qos: .utility)
        self.estimate = estimate
        self.policy = policy
        info = try engine.info()
    }

    /// Loads `file` after checking, from its header, that the model and one chat fit in
    /// `options.availableMemory`. Throws `GemmaError.notEnoughMemory` when they do not, unless
    /// `shrinkContextToFit` asks for the longest context that fits instead.
    public static func load(from file: URL, options: LoadOptions = LoadOptions()) async throws(GemmaError) -> GemmaModel {
        let queue = DispatchQueue(label: "dev.gemkit.model.\(file.lastPathComponent)", qos: .userInitiated)
        return try await run(on: queue) {
            var engineOptions = try options.engineOptions()
            var estimate = try estimateMemory(path: file.path, options: engineOptions)
            if let available = options.availableMemory(), estimate.anonymousBytes > available {
                guard options.shrinkContextToFit else {
                    throw GemmaError.notEnoughMemory(needed: estimate.anonymousBytes, available: available)
                }
                engineOptions = try options.engineOptions(budget: available)
                estimate = try estimateMemory(path: file.path, options: engineOptions)
            }
            let engine = try Engine.load(path: file.path, options: engineOptions)
            let model = try GemmaModel(engine: engine, queue: queue, estimate: estimate, policy: options.memoryPolicy)
            if options.memoryPolicy != nil {
                model.watch.start { [weak model] pressure, reason in
                    Task { _ = try? await model?.respond(to: pressure, reason: reason) }
                }
            }
            return model
        }
    }

    /// What loading `file` with `options` would take, from its header alone (no check against
    /// the available memory).
    public static func estimate(of file: URL, options: LoadOptions = LoadOptions()) async throws(GemmaError) -> MemoryEstimate {
        try await run(on: .global(qos: .userInitiated)) {
            try estimateMemory(path: file.path, options: options.engineOptions())
        }
    }

    /// The app's own (anonymous) memory the model and its live chats, prefixes and requests hold
    /// now; the mapped weights are not counted: the system can drop and reload them.
    public var memoryInUse: UInt64 { engine.memoryInUse() }

    /// Why the model is unloaded (the reason `releaseMemory` was given), or nil while it is
    /// loaded. An unloaded model loads again on next use.
    public var unloadedReason: String? { engine.unloadedReason() }

    /// The directory where released sessions' KV caches wait to be read back.
    static let offloadDirectory: URL = (FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask).first
        ?? FileManager.default.temporaryDirectory).appendingPathComponent("gemkit", isDirectory: true)

    /// Frees memory now: `.caches` or the whole `.model`, as `MemoryPolicy` describes; `reason` is
    /// what `unloadedReason` then reports. Returns what was freed (bytes, sessions offloaded,
    /// prefixes freed, sessions left alone because a reply was being generated in them). With
    /// `.model` it waits for the running request to stop (one token).
    public func releaseMemory(_ what: MemoryRelease, reason: String = "released by the app") async throws(GemmaError) -> ReleasedMemory {
        let engine = engine
        return try await Self.run(on: releaseQueue) {
            try engine.releaseMemory(what: what, directory: Self.offloadDirectory.path, reason: reason)
        }
    }

    /// What the model does at `pressure` under its `LoadOptions.memoryPolicy`: the release it
    /// makes, or nil if the policy frees nothing (or there is none). The system's signals call
    /// it; an app with signals of its own may too.
    public func respond(to pressure: MemoryPressure, reason: String? = nil) async throws(GemmaError) -> ReleasedMemory? {
        guard let what = policy?.release(pressure) else { return nil }
        return try await releaseMemory(what, reason: reason ?? "memory pressure: \(pressure)")
    }

    /// A new conversation, with its own KV cache; `system` opens it (Gemma puts it in the first
    /// user turn).
    public func chatSession(system: String? = nil) throws(GemmaError) -> ChatSession {
        do {
            return ChatSession(chat: try engine.newChat(options: ChatOptions(system: system)), model: self)
        } catch {
            throw GemmaError(error)
        }
    }

    /// Prefills a conversation's opening once (the system prompt), for `chatSession(from:)`:
    /// each session made from it starts without prefilling it again.
    public func chatPrefix(system: String?) async throws(GemmaError) -> ChatPrefix {
        ChatPrefix(prefix: try await run { try $0.chatPrefix(options: ChatOptions(system: system)) })
    }

    public func chatSession(from prefix: ChatPrefix) throws(GemmaError) -> ChatSession {
        do {
            return ChatSession(chat: try engine.newChatFrom(prefix: prefix.prefix), model: self)
        } catch {
            throw GemmaError(error)
        }
    }

    /// A conversation saved by `ChatSession.save(to:)` with this model, KV cache included.
    public func restoreChat(from file: URL) async throws(GemmaError) -> ChatSession {
        let chat = try await run { try $0.restoreChat(path: file.path) }
        return ChatSession(chat: chat, model: self)
    }

    /// Continues `prompt` as raw text (no chat template), after `prefix` if given.
    public func complete(
        _ prompt: String, after prefix: TextPrefix? = nil, options: GenerationOptions = GenerationOptions()
    ) -> AsyncThrowingStream<ChatEvent, Error> {
        replyEvents { listener in
            try engine.complete(prefix: prefix?.prefix, prompt: prompt, listener: listener, options: options.engineOptions)
        }
    }

    /// Prefills `text` once for `complete(_:after:)`: an instruction sent with every request.
    public func textPrefix(_ text: String) async throws(GemmaError) -> TextPrefix {
        TextPrefix(prefix: try await run { try $0.prefix(text: text) })
    }

    /// Corrects texts for a keyboard; the engine prefills its instruction once, on first use.
    public func proofreader() -> Proofreader {
        Proofreader(model: self)
    }

    /// Runs blocking engine work on the model's queue.
    func run<T: Sendable>(_ work: @escaping @Sendable (Engine) throws -> T) async throws(GemmaError) -> T {
        let engine = engine
        return try await Self.run(on: queue) { try work(engine) }
    }

    private static func run<T: Sendable>(
        on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T
    ) async throws(GemmaError) -> T {
        do {
            return try await runBlocking(on: queue, work)
        } catch {
            throw GemmaError(error)
        }
    }
}

/// A conversation's opening, prefilled once by `GemmaModel.chatPrefix(system:)`.
public struct ChatPrefix: Sendable {
    let prefix: Prefix
    public var tokenCount: Int { Int(prefix.tokenCount()) }
}

/// Text prefilled once by `GemmaModel.textPrefix(_:)`, for completions that start with it.
public struct TextPrefix: Sendable {
    let prefix: Prefix
    public var tokenCount: Int { Int(prefix.tokenCount()) }
}
