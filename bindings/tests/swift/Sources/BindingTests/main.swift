// The generated Swift against the host-built library and the real model. scripts/test-swift.sh
// sets the environment: the model's path and what the Rust CLI produced for the same requests.
import Foundation
import GemKit

func env(_ name: String) -> String {
    guard let value = ProcessInfo.processInfo.environment[name] else {
        fatalError("\(name) is unset: run scripts/test-swift.sh")
    }
    return value
}

let modelPath = env("GEMKIT_MODEL")
let t = Harness()
// One engine for the tests that do not need their own options; it lives as long as the run.
let engine = try Engine.load(path: modelPath)
engineTests(t, modelPath)
errorTests(t, engine, modelPath)
generationTests(t, engine)
chatTests(t, engine, modelPath)
t.runAndExit()
