import Foundation
import GemKit
import Observation

/// The text around a keyboard's cursor, as a keyboard extension sees it: what
/// `UITextDocumentProxy` offers (the demo's keyboard wraps one), so that the fix key's logic runs
/// and is tested without UIKit.
@MainActor
public protocol TextDocument: AnyObject {
    /// The text before the cursor, as far as the host app tells (often the current paragraph).
    var documentContextBeforeInput: String? { get }
    func deleteBackward()
    func insertText(_ text: String)
}

/// What a keyboard does to the text before the cursor: delete `deleteCount` characters
/// backwards, then type `insert`.
public struct TextEdit: Sendable, Equatable {
    public let deleteCount: Int
    public let insert: String

    /// The smallest such edit that turns `original` (ending at the cursor) into `replacement`:
    /// the two keep their common beginning.
    public init(from original: Substring, to replacement: String) {
        let kept = zip(original, replacement).prefix { $0 == $1 }.count
        deleteCount = original.count - kept
        insert = String(replacement.dropFirst(kept))
    }

    public var isEmpty: Bool { deleteCount == 0 && insert.isEmpty }
}

/// The keyboard's "fix" key: proofreads the paragraph before the cursor and edits it in place.
/// A keyboard extension has little memory (iOS ends it beyond a few tens of megabytes), so the
/// model loads with a small context, shrunk further if `os_proc_available_memory` says so, and
/// stays loaded for the life of the process, across the view controllers iOS makes each time
/// the keyboard appears.
@MainActor @Observable
public final class KeyboardFixModel {
    /// Tokens for the instruction, the paragraph and its correction.
    public static let contextLength = 512

    public private(set) var isFixing = false
    public private(set) var error: GemmaError?

    private let modelFile: URL
    private let loadOptions: LoadOptions

    public init(modelFile: URL, availableMemory: @escaping @Sendable () -> UInt64? = LoadOptions.deviceAvailableMemory) {
        self.modelFile = modelFile
        loadOptions = LoadOptions(
            contextLength: Self.contextLength, threads: 2, shrinkContextToFit: true, availableMemory: availableMemory)
    }

    /// Fixes the paragraph before the cursor in `document`; returns the edit made, nil when there
    /// was nothing to fix or the text changed meanwhile (the user typed on: their text wins).
    @discardableResult
    public func fix(_ document: TextDocument) async -> TextEdit? {
        guard !isFixing, let paragraph = CursorParagraph(document.documentContextBeforeInput) else { return nil }
        isFixing = true
        defer { isFixing = false }
        error = nil
        do {
            let correction = try await Self.model(modelFile, loadOptions).proofreader().proofread(String(paragraph.text))
            return paragraph.replace(with: correction.corrected, in: document)
        } catch {
            self.error = error as? GemmaError
            return nil
        }
    }

    /// The process's one model: loaded on the first fix, kept while the file stays the same.
    private static var loaded: (file: URL, model: Task<GemmaModel, Error>)?

    private static func model(_ file: URL, _ options: LoadOptions) async throws -> GemmaModel {
        if let loaded, loaded.file == file, let model = try? await loaded.model.value { return model }
        let loading = Task { try await GemmaModel.load(from: file, options: options) }
        loaded = (file, loading)
        return try await loading.value
    }
}

/// The paragraph before the cursor, which the fix key proofreads: from the last line break to
/// the cursor, less its trailing whitespace, which stays where it is.
struct CursorParagraph {
    /// The text before the cursor when it was read.
    let before: String
    let paragraph: Substring
    /// What is proofread.
    let text: Substring

    init?(_ before: String?) {
        guard let before else { return nil }
        self.before = before
        paragraph = before[(before.lastIndex(of: "\n").map(before.index(after:)) ?? before.startIndex)...]
        text = paragraph.trimmingTrailingWhitespace
        if text.isEmpty { return nil }
    }

    /// Puts `corrected` in place of the text, unless the document changed since it was read;
    /// the edit made, if any.
    @MainActor
    func replace(with corrected: String, in document: TextDocument) -> TextEdit? {
        let edit = TextEdit(from: paragraph, to: corrected + paragraph[text.endIndex...])
        guard !edit.isEmpty, document.documentContextBeforeInput == before else { return nil }
        for _ in 0..<edit.deleteCount { document.deleteBackward() }
        document.insertText(edit.insert)
        return edit
    }
}

extension Substring {
    var trimmingTrailingWhitespace: Substring {
        var end = endIndex
        while end > startIndex, self[index(before: end)].isWhitespace { end = index(before: end) }
        return self[..<end]
    }
}
