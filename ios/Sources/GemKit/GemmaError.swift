import Foundation

/// Every failure of the wrapper API (`GemmaModel`, `ChatSession`, `Proofreader`, availability):
/// the engine's cases, each with the core's one-line message, and the wrapper's own. Task
/// cancellation is not a failure: it ends streams quietly and throws Swift's `CancellationError`
/// from `respond` and `proofread`, as Kotlin's coroutines throw `CancellationException`.
public enum GemmaError: Error, LocalizedError, Equatable {
    /// The file cannot be read or written: missing, no permission, an I/O failure.
    case io(String)
    /// The file is not a valid GGUF model (corrupt, truncated, inconsistent).
    case invalidModel(String)
    /// A valid file that this version cannot run (architecture, tensor type).
    case unsupportedModel(String)
    /// An option or input out of range: thread count, context length, token id, text size.
    case invalidArgument(String)
    /// The text needs `tokens` tokens, more than the `contextSize` the model was loaded with.
    case contextFull(tokens: Int, contextSize: Int)
    /// The engine's memory budget has no room for what was asked (a second chat, a prefix).
    case outOfMemory(String)
    /// The model is running another request and the caller asked not to wait (`.fail`).
    case busy(String)
    /// A saved chat that cannot be restored: damaged, or saved with another model.
    case invalidChatFile(String)
    /// A bug in GemKit; the message says where.
    case `internal`(String)
    /// Checked before loading: the model and one chat need `needed` bytes of the app's own
    /// memory, and the device has `available` for this process.
    case notEnoughMemory(needed: UInt64, available: UInt64)
    /// The model could not be downloaded.
    case download(DownloadError)

    public var errorDescription: String? {
        switch self {
        case .io(let message), .invalidArgument(let message):
            return message
        case .invalidModel(let message):
            return "The model file is damaged or is not a GGUF model (\(message))."
        case .unsupportedModel(let message):
            return "This version of GemKit cannot run this model (\(message))."
        case .contextFull(let tokens, let contextSize):
            return "The text needs \(tokens) tokens, and the model was loaded with room for \(contextSize). "
                + "Start a new chat, shorten the text, or load the model with a longer context."
        case .outOfMemory(let message):
            return "Not enough memory for this request (\(message))."
        case .busy(let message):
            return "The model is busy with another request (\(message))."
        case .invalidChatFile(let message):
            return "The saved chat cannot be restored (\(message))."
        case .internal(let message):
            return "Internal error in GemKit (\(message))."
        case .notEnoughMemory(let needed, let available):
            return "The model needs \(megabytes(needed)) of memory, and this app has \(megabytes(available)) "
                + "available. Close other apps, or load it with a shorter context (shrinkContextToFit)."
        case .download(let error):
            return error.errorDescription
        }
    }
}

extension GemmaError {
    /// The one place where the generated `GemKitError` and the errors of blocking work become a
    /// `GemmaError`.
    init(_ error: Error) {
        switch error {
        case let error as GemmaError: self = error
        case let error as GemKitError: self.init(engine: error)
        case let error as DownloadError: self = .download(error)
        default: self = .internal(String(describing: error))
        }
    }

    private init(engine error: GemKitError) {
        switch error {
        case .Io(let m): self = .io(m)
        case .InvalidModel(let m): self = .invalidModel(m)
        case .UnsupportedModel(let m): self = .unsupportedModel(m)
        case .InvalidArgument(let m): self = .invalidArgument(m)
        case .ContextFull(_, let needed, let limit):
            self = .contextFull(tokens: Int(needed), contextSize: Int(limit))
        case .OutOfMemory(let m): self = .outOfMemory(m)
        case .Busy(let m): self = .busy(m)
        case .InvalidChatFile(let m): self = .invalidChatFile(m)
        case .Internal(let m): self = .internal(m)
        }
    }
}

/// Bytes as megabytes with one decimal, for messages.
func megabytes<T: BinaryInteger>(_ bytes: T) -> String {
    String(format: "%.1f MB", Double(bytes) / 1_000_000)
}
