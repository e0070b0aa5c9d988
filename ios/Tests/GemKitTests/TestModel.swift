// What scripts/test-swift.sh hands the tests: the real model's path and what the Rust CLI gave
// for the same requests. Run without it, the tests that need them say SKIPPED (and the script
// fails if any test was skipped, so CI never passes on skips).
import Foundation
import GemKit
import XCTest

/// The environment variable `name`; skips the test when it is unset.
func env(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name] else {
        throw XCTSkip("SKIPPED: \(name) is unset; run scripts/test-swift.sh")
    }
    return value
}

/// The real model's path (GEMKIT_MODEL).
func modelPath() throws -> String { try env("GEMKIT_MODEL") }

/// An engine on the real model.
func loadEngine(_ options: EngineOptions = EngineOptions()) throws -> Engine {
    try Engine.load(path: modelPath(), options: options)
}

/// Greedy decoding, so that every reply is reproducible.
func greedy(_ maxTokens: UInt32) -> GenerateOptions {
    GenerateOptions(maxTokens: maxTokens, sampling: Sampling(temperature: 0))
}

let longPrompt = "Write a very long story about a lighthouse keeper:"

/// A test failure raised from a helper (or from a listener, where it cancels the request).
struct Failure: Error, CustomStringConvertible {
    let description: String
}

func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("gemkit-\(getpid())-\(name)").path
}

/// The GemKitError that `body` throws; a failure if it returns or throws something else.
func expectGemKitError<T>(line: UInt = #line, _ body: () throws -> T) throws -> GemKitError {
    do {
        let value = try body()
        throw Failure(description: "line \(line): expected an error, got \(value)")
    } catch let error as GemKitError {
        return error
    }
}
