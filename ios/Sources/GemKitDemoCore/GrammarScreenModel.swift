import GemKit
import Observation

/// The grammar screen: a text in, its correction out, with the insertions and deletions to
/// highlight.
@MainActor @Observable
public final class GrammarScreenModel {
    public var text = ""
    /// The last correction; its segments are the runs to draw, in reading order: unchanged text
    /// plain, deletions struck through, insertions highlighted.
    public private(set) var correction: Correction?
    public private(set) var isChecking = false
    public private(set) var error: GemmaError?

    private let proofreader: Proofreader
    private var check: Task<Void, Never>?

    public init(model: GemmaModel) {
        proofreader = model.proofreader()
    }

    /// Proofreads `text`; a check still running for an older text is cancelled first.
    public func proofread() async {
        check?.cancel()
        let text = text
        error = nil
        isChecking = true
        let check = Task {
            do {
                let correction = try await proofreader.proofread(text)
                self.correction = correction
            } catch is CancellationError {
                // A newer check replaced this one.
            } catch {
                self.error = error as? GemmaError
            }
        }
        self.check = check
        await check.value
        if self.check == check {
            self.check = nil
            isChecking = false
        }
    }
}
