// swift-tools-version:5.9
// The generated Swift against the host-built library. scripts/test-swift.sh copies this package
// beside the generated files (Sources/GemKit, Sources/GemKitFFI) and builds it there.
import PackageDescription

let package = Package(
    name: "GemKitBindingTests",
    targets: [
        .systemLibrary(name: "GemKitFFI", path: "Sources/GemKitFFI"),
        .target(
            name: "GemKit",
            dependencies: ["GemKitFFI"],
            linkerSettings: [.linkedLibrary("gemkit_ffi")]
        ),
        .executableTarget(name: "BindingTests", dependencies: ["GemKit"]),
    ]
)
