#if canImport(SwiftUI)
import GemKit
import GemKitDemoCore
import SwiftUI

/// Three tabs: the model (download, check, load), a chat and the grammar checker; the last two
/// once the model is loaded.
@main
struct GemKitDemoApp: App {
    @State private var modelScreen = ModelScreenModel(downloader: ModelDownloader(directory: DemoStorage.modelsDirectory))

    var body: some Scene {
        WindowGroup {
            TabView {
                ModelScreen(screen: modelScreen)
                    .tabItem { Label("Model", systemImage: "arrow.down.circle") }
                WithModel(model: modelScreen.model) { ChatScreen(chat: try ChatScreenModel(model: $0, system: "Answer briefly.")) }
                    .tabItem { Label("Chat", systemImage: "bubble.left.and.bubble.right") }
                WithModel(model: modelScreen.model) { GrammarScreen(grammar: GrammarScreenModel(model: $0)) }
                    .tabItem { Label("Grammar", systemImage: "text.badge.checkmark") }
            }
        }
    }
}

/// A screen made for the loaded model, or a note to load one first.
struct WithModel<Screen: View>: View {
    let model: GemmaModel?
    let make: (GemmaModel) throws -> Screen
    @State private var screen: Screen?
    @State private var error: String?

    var body: some View {
        Group {
            if let screen {
                screen
            } else {
                ContentUnavailableView(
                    "No model loaded", systemImage: "cpu", description: Text(error ?? "Download and load the model first."))
            }
        }
        .task(id: model.map(ObjectIdentifier.init)) {
            do {
                screen = try model.map(make)
            } catch {
                self.error = error.localizedDescription
            }
        }
    }
}
#else
/// The demo's screens are SwiftUI: on Linux this target only shows that the package resolves.
@main
enum GemKitDemoApp {
    static func main() {
        print("The GemKit demo app needs SwiftUI (macOS or iOS); its logic is GemKitDemoCore, tested by `swift test` in ios/.")
    }
}
#endif
