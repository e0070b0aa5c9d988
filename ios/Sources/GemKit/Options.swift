import Foundation
#if os(iOS)
import os
#endif

/// How `GemmaModel.load` loads a model. Unset numbers take the engine's defaults (the training
/// context up to 4096 tokens, the performance cores).
public struct LoadOptions: Sendable {
    /// Tokens a chat can hold. A chat's KV cache is the part of a model's memory that grows
    /// with it: a keyboard wants a few hundred, a chat app a few thousand.
    public var contextLength: Int?
    public var threads: Int?
    /// When the model and one chat do not fit in `availableMemory`: load with the longest
    /// context that fits, instead of throwing `GemmaError.notEnoughMemory`.
    public var shrinkContextToFit: Bool
    /// The memory this process may still take, checked against the model's estimate before
    /// loading; nil skips the check. Injectable for tests and for apps that keep a margin.
    public var availableMemory: @Sendable () -> UInt64?
    /// What the model frees when the system runs short of memory (see `MemoryPolicy`); nil
    /// observes nothing, for apps that call `GemmaModel.releaseMemory` themselves.
    public var memoryPolicy: MemoryPolicy?

    public init(
        contextLength: Int? = nil, threads: Int? = nil, shrinkContextToFit: Bool = false,
        availableMemory: @escaping @Sendable () -> UInt64? = LoadOptions.deviceAvailableMemory,
        memoryPolicy: MemoryPolicy? = .default
    ) {
        self.contextLength = contextLength
        self.threads = threads
        self.shrinkContextToFit = shrinkContextToFit
        self.availableMemory = availableMemory
        self.memoryPolicy = memoryPolicy
    }

    /// On iOS, `os_proc_available_memory()`: what this process can allocate before iOS ends it.
    /// It is 0 where no limit applies (the simulator), which counts as unknown. Elsewhere nil.
    public static let deviceAvailableMemory: @Sendable () -> UInt64? = {
        #if os(iOS)
        let available = os_proc_available_memory()
        return available > 0 ? UInt64(available) : nil
        #else
        return nil
        #endif
    }

    /// The engine's options, with a memory budget when the context is to shrink into it.
    func engineOptions(budget: UInt64? = nil) throws(GemmaError) -> EngineOptions {
        EngineOptions(
            contextLength: try count(contextLength, "contextLength"), threads: try count(threads, "threads"),
            memoryBudget: budget, fitContextToBudget: budget != nil)
    }
}

/// How a reply is generated.
public struct GenerationOptions: Sendable, Equatable {
    /// Tokens the reply may have; reaching it finishes the reply with `.length`.
    public var maxTokens: Int
    /// Temperature 0 is greedy; the same seed and input give the same reply on every platform.
    public var sampling: Sampling
    /// Text that ends the reply (and is not part of it).
    public var stop: [String]
    /// When the model is running another request: `.wait` queues this one behind it, `.fail`
    /// throws `GemmaError.busy` at once.
    public var whenBusy: WhenBusy

    public init(maxTokens: Int = 256, sampling: Sampling = Sampling(), stop: [String] = [], whenBusy: WhenBusy = .wait) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.whenBusy = whenBusy
    }

    var engineOptions: GenerateOptions {
        get throws(GemmaError) {
            GenerateOptions(
                maxTokens: try count(maxTokens, "maxTokens") ?? 0, sampling: sampling, stop: stop, whenBusy: whenBusy)
        }
    }
}

/// A count for the engine, which takes 32 bits; a negative or huge one is the caller's mistake.
private func count(_ value: Int?, _ name: String) throws(GemmaError) -> UInt32? {
    guard let value else { return nil }
    guard let count = UInt32(exactly: value) else {
        throw .invalidArgument("invalid argument: \(name) must be 0 to \(UInt32.max), not \(value)")
    }
    return count
}
