/// Spelling, grammar and punctuation corrections for a keyboard or an editor, in the spirit of ML
/// Kit's Proofreading client. The engine prefills its instruction once per model, on the first
/// request, so each later one prefills only the text.
public final class Proofreader: Sendable {
    private let model: GemmaModel

    init(model: GemmaModel) {
        self.model = model
    }

    /// Corrects `text` (greedy: the same text gives the same correction). Waits while the model
    /// runs another request. Cancelling the calling task stops the engine within one token and
    /// throws `CancellationError`.
    public func proofread(_ text: String) async throws -> Correction {
        let cancel = CancelToken()
        let result = try await withTaskCancellationHandler {
            try await model.run { engine -> ProofreadResult? in
                // Cancelled while queued behind other work on the model: nothing to do.
                cancel.isCancelled() ? nil : try engine.proofread(text: text, cancel: cancel)
            }
        } onCancel: {
            cancel.cancel()
        }
        guard let result, result.finishReason != .cancelled else { throw CancellationError() }
        return Correction(original: text, result)
    }
}

/// A text and its correction, word by word.
public struct Correction: Sendable, Equatable {
    public let original: String
    /// The original text when the model's reply did not finish (cut off by its token limit).
    public let corrected: String
    /// Unchanged and deleted segments spell the original; unchanged and inserted ones spell the
    /// correction: ready to underline.
    public let segments: [Segment]
    public let stats: Stats

    init(original: String, _ result: ProofreadResult) {
        self.original = original
        corrected = result.corrected
        segments = result.segments
        stats = result.stats
    }

    public var hasChanges: Bool { corrected != original }
}
