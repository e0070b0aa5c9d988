// swift-tools-version:6.0
// The GemKit demo: a SwiftUI app (model, chat and grammar screens) and a keyboard extension with a
// "fix" key, over GemKitDemoCore's view models (tested in ../Tests). SwiftPM builds the app for
// macOS (`swift run GemKitDemo` on a Mac, or open this file in Xcode); an iOS app and its keyboard
// extension need an Xcode project around these sources: see README.md.
import PackageDescription

let package = Package(
    name: "GemKitDemo",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        // For the keyboard extension target of an Xcode project.
        .library(name: "GemKitKeyboard", targets: ["GemKitKeyboard"])
    ],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "GemKitDemo", dependencies: [.product(name: "GemKitDemoCore", package: "ios")]),
        // The keyboard extension's principal class, KeyboardViewController (iOS only).
        .target(
            name: "GemKitKeyboard", dependencies: [.product(name: "GemKitDemoCore", package: "ios")]),
    ],
    swiftLanguageModes: [.v6]
)
