#if canImport(SwiftUI)
import GemKit
import GemKitDemoCore
import SwiftUI

/// Download with progress, cancel, verify, delete, the memory check, and load.
struct ModelScreen: View {
    let screen: ModelScreenModel

    var body: some View {
        Form {
            Section(screen.spec.fileName) {
                switch screen.availability {
                case .notDownloaded:
                    Button("Download") { screen.startDownload() }
                case .downloading(let progress):
                    ProgressView(value: Double(progress.bytes), total: Double(max(progress.totalBytes ?? 0, progress.bytes, 1)))
                    Text(progressText(progress)).font(.caption)
                    Button("Cancel", role: .cancel) { screen.cancelDownload() }
                case .available:
                    Button(screen.model == nil ? "Load" : "Loaded") { Task { await screen.load() } }
                        .disabled(screen.model != nil || screen.isLoading)
                    Button("Verify") { Task { await screen.verify() } }
                    if let verified = screen.verified { Text(verified ? "SHA-256 matches" : "SHA-256 does not match") }
                    Button("Delete", role: .destructive) { Task { await screen.delete() } }
                case .unavailable(let error):
                    Text(error.localizedDescription).foregroundStyle(.red)
                    Button("Try again") { screen.startDownload() }
                }
            }
            if let memory = screen.memory {
                Section("Memory") {
                    LabeledContent("Model and one chat", value: bytes(memory.estimate.anonymousBytes))
                    LabeledContent("Available", value: memory.available.map(bytes) ?? "unknown here")
                    if memory.fits == false { Text("The context will be shortened to fit.").font(.caption) }
                }
            }
            if let error = screen.error {
                Section { Text(error.localizedDescription).foregroundStyle(.red) }
            }
        }
        .task { await screen.follow() }
    }

    private func progressText(_ progress: DownloadProgress) -> String {
        let total = progress.totalBytes.map { " of \(bytes(UInt64($0)))" } ?? ""
        let eta = progress.eta.map { ", \(Int($0.components.seconds)) s left" } ?? ""
        return "\(bytes(UInt64(progress.bytes)))\(total)\(eta)"
    }

    private func bytes(_ count: UInt64) -> String {
        ByteCountFormatter.string(fromByteCount: Int64(count), countStyle: .memory)
    }
}
#endif
