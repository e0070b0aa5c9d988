#if canImport(SwiftUI)
import GemKit
import GemKitDemoCore
import SwiftUI

/// A text, and its correction with deletions struck through and insertions underlined.
struct GrammarScreen: View {
    @Bindable var grammar: GrammarScreenModel

    var body: some View {
        Form {
            Section("Text") {
                TextEditor(text: $grammar.text).frame(minHeight: 120)
                Button(grammar.isChecking ? "Checking…" : "Check") { Task { await grammar.proofread() } }
                    .disabled(grammar.isChecking || grammar.text.isEmpty)
            }
            if let correction = grammar.correction {
                Section("Changes") { Text(highlighted(correction.segments)) }
                Section("Corrected") { Text(correction.corrected).textSelection(.enabled) }
            }
            if let error = grammar.error {
                Section { Text(error.localizedDescription).foregroundStyle(.red) }
            }
        }
    }

    private func highlighted(_ segments: [Segment]) -> AttributedString {
        segments.reduce(into: AttributedString()) { text, segment in
            var run = AttributedString(segment.text)
            switch segment.kind {
            case .unchanged: break
            case .inserted:
                run.foregroundColor = .green
                run.underlineStyle = .single
            case .deleted:
                run.foregroundColor = .red
                run.strikethroughStyle = .single
            }
            text += run
        }
    }
}
#endif
