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

/// The real model through the wrapper, with no memory check (the tests that check pass their own).
func loadModel(_ options: LoadOptions = LoadOptions(availableMemory: { nil })) async throws -> GemmaModel {
    try await GemmaModel.load(from: URL(fileURLWithPath: modelPath()), options: options)
}

/// Greedy replies, as in `greedy`, through the wrapper's options.
func greedyGeneration(_ maxTokens: Int, whenBusy: WhenBusy = .wait) -> GenerationOptions {
    GenerationOptions(maxTokens: maxTokens, sampling: Sampling(temperature: 0), whenBusy: whenBusy)
}

/// Every event of a reply, to its end.
func events(_ stream: AsyncThrowingStream<ChatEvent, Error>) async throws -> [ChatEvent] {
    var all: [ChatEvent] = []
    for try await event in stream { all.append(event) }
    return all
}

/// Waits until `condition` holds, looking every few milliseconds; a failure after two minutes.
@MainActor
func eventually(_ what: String, _ condition: @MainActor () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(120)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw Failure(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// The GemmaError that `body` throws; a failure if it returns or throws something else.
func expectGemmaError<T>(line: UInt = #line, _ body: () async throws -> T) async throws -> GemmaError {
    do {
        let value = try await body()
        throw Failure(description: "line \(line): expected an error, got \(value)")
    } catch let error as GemmaError {
        return error
    }
}

/// Starts a long reply on `session`, returning once its first text has arrived (the turn is then
/// in the history whatever happens next); cancelling the returned task stops it.
func longReply(on session: ChatSession) async throws -> Task<Void, Error> {
    let (firstText, signal) = AsyncStream<Void>.makeStream()
    let task = Task {
        for try await _ in session.send(longPrompt, options: greedyGeneration(2000)) { signal.yield() }
    }
    for await _ in firstText { break }
    return task
}
