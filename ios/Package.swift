// swift-tools-version:6.0
// GemKit for Swift: the bindings that UniFFI generates (Sources/GemKit/Generated, never committed
// to the main repository) and the hand-written Swift beside them, over the native library
// GemKitFFI. On Apple platforms GemKitFFI is an xcframework: the one scripts/build-xcframework.sh
// builds here, or in the release repository the zip that scripts/release-swift.sh uploads. On
// Linux it is the host-built libgemkit_ffi, so that `swift test` runs in CI (scripts/test-swift.sh).
import PackageDescription

/// The released xcframework's zip; scripts/release-swift.sh sets it in the release repository.
let releasedFFI: (url: String, checksum: String)? = nil

#if os(Linux)
// The generated header and module map, which scripts/test-swift.sh copies in; the library is
// found with `-Xlinker -L`.
let ffi = Target.systemLibrary(name: "GemKitFFI", path: "Sources/GemKitFFI")
#else
let ffi: Target =
    if let releasedFFI {
        .binaryTarget(name: "GemKitFFI", url: releasedFFI.url, checksum: releasedFFI.checksum)
    } else {
        .binaryTarget(name: "GemKitFFI", path: "GemKitFFI.xcframework")
    }
#endif

let package = Package(
    name: "GemKit",
    // iOS 17 / macOS 14: the Observation framework (ChatSession is observable, the demo's view
    // models are @Observable).
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "GemKit", targets: ["GemKit"]),
        // The demo app's logic, for Demo/ (a package of its own that depends on this one).
        .library(name: "GemKitDemoCore", targets: ["GemKitDemoCore"]),
    ],
    targets: [
        ffi,
        .target(
            name: "GemKit",
            dependencies: ["GemKitFFI"],
            linkerSettings: [.linkedLibrary("gemkit_ffi", .when(platforms: [.linux]))]
        ),
        // The demo's view models, without SwiftUI or UIKit, so that they build and are tested here.
        .target(name: "GemKitDemoCore", dependencies: ["GemKit"]),
        .testTarget(name: "GemKitTests", dependencies: ["GemKit", "GemKitDemoCore"]),
        // What a Swift listener costs in decode speed: `make bench` (scripts/bench-bindings-swift.sh).
        .executableTarget(name: "GemKitBench", dependencies: ["GemKit"], path: "Benchmarks/GemKitBench"),
    ],
    swiftLanguageModes: [.v6]
)
