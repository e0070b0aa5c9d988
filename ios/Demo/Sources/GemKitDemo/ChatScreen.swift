#if canImport(SwiftUI)
import GemKit
import GemKitDemoCore
import SwiftUI

/// The conversation, the reply streaming in, Stop while it does, and each reply's speed.
struct ChatScreen: View {
    @Bindable var chat: ChatScreenModel

    var body: some View {
        VStack(spacing: 0) {
            ScrollView {
                LazyVStack(alignment: .leading, spacing: 12) {
                    ForEach(chat.lines) { line in
                        VStack(alignment: line.role == .user ? .trailing : .leading, spacing: 4) {
                            Text(line.text.isEmpty ? "…" : line.text)
                                .padding(10)
                                .background(line.role == .user ? Color.accentColor.opacity(0.15) : Color.secondary.opacity(0.1))
                                .clipShape(RoundedRectangle(cornerRadius: 12))
                            if let caption = caption(line) { Text(caption).font(.caption2).foregroundStyle(.secondary) }
                        }
                        .frame(maxWidth: .infinity, alignment: line.role == .user ? .trailing : .leading)
                    }
                }
                .padding()
            }
            if let error = chat.error { Text(error.localizedDescription).foregroundStyle(.red).padding(.horizontal) }
            HStack {
                TextField("Message", text: $chat.draft)
                    .textFieldStyle(.roundedBorder)
                    .onSubmit { Task { await chat.send() } }
                if chat.isResponding {
                    Button("Stop") { chat.stop() }
                } else {
                    Button("Send") { Task { await chat.send() } }.disabled(chat.draft.isEmpty)
                }
            }
            .padding()
        }
    }

    private func caption(_ line: ChatScreenModel.Line) -> String? {
        if line.finishReason == .cancelled { return "stopped" }
        return line.stats?.summary
    }
}
#endif
