import Foundation
import GemKit

extension ModelSpec {
    /// The demo's default model: Gemma 3 270M instruction-tuned, Q4_K_M, from bartowski's public
    /// (not gated) GGUF conversions on Hugging Face, pinned to revision d127a4e2 so that the
    /// hash stays true. The size and SHA-256 are those several public projects pin for this exact
    /// URL (see ios/Demo/README.md); the download refuses any other bytes.
    public static let gemma3_270mInstruct = ModelSpec(
        url: URL(
            string: "https://huggingface.co/bartowski/google_gemma-3-270m-it-GGUF/resolve/"
                + "d127a4e2c6ed47fdf409a956867b604c040432f9/google_gemma-3-270m-it-Q4_K_M.gguf")!,
        sha256: "c866c9f113f2e9aa2225c5997ede437392b8fa844ba5db9e4c77e315ffe20800",
        sizeBytes: 253_115_168,
        fileName: "gemma-3-270m-it-Q4_K_M.gguf")
}

/// Where the demo app and its keyboard keep the model.
public enum DemoStorage {
    /// The app group the two share (set in both targets' entitlements).
    public static let appGroup = "group.dev.gemkit.demo"

    /// The app group's container, which the keyboard extension reads too (with Full Access);
    /// without one (a build without the entitlement), Application Support.
    public static var modelsDirectory: URL {
        #if canImport(Darwin)
        if let shared = FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: appGroup) {
            return shared.appendingPathComponent("Models")
        }
        #endif
        return FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("Models")
    }

    /// The default model's file, where the keyboard looks for it.
    public static var defaultModelFile: URL {
        modelsDirectory.appendingPathComponent(ModelSpec.gemma3_270mInstruct.fileName)
    }
}
