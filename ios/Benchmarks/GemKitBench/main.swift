// What a Swift TokenListener costs: the decode speed of one greedy completion through a listener
// here beside the Rust CLI's (`gemkit generate --json`), alternately, medians of three. Run by
// scripts/bench-bindings-swift.sh (`make bench`), which sets the environment.
import Foundation
import GemKit

func env(_ name: String) -> String {
    guard let value = ProcessInfo.processInfo.environment[name] else {
        fatalError("\(name) is unset: run scripts/bench-bindings-swift.sh")
    }
    return value
}

/// Keeps the text, as an app's listener would, and signals the last call.
final class Listener: TokenListener, @unchecked Sendable {
    // @unchecked: `text` and `reply` are written on the engine's thread before `done` is
    // signalled, and read only after it.
    private var text = ""
    private var reply: Reply?
    private var error: GemKitError?
    private let done = DispatchSemaphore(value: 0)

    func onText(text: String) { self.text += text }
    func onComplete(reply: Reply) {
        self.reply = reply
        done.signal()
    }
    func onError(error: GemKitError) {
        self.error = error
        done.signal()
    }

    func wait() throws -> Reply {
        done.wait()
        if let error { throw error }
        return reply!
    }
}

func swiftDecodeSpeed(_ engine: Engine, _ prompt: String, _ tokens: UInt32) throws -> Double {
    let listener = Listener()
    let options = GenerateOptions(maxTokens: tokens, sampling: Sampling(temperature: 0))
    let handle = try engine.complete(prefix: nil, prompt: prompt, listener: listener, options: options)
    let reply = try withExtendedLifetime(handle) { try listener.wait() }
    guard reply.finishReason == .length else { fatalError("stopped early: \(reply.finishReason)") }
    return reply.stats.decodeTokS
}

func cliDecodeSpeed(_ prompt: String, _ tokens: UInt32) throws -> Double {
    let cli = Process()
    cli.executableURL = URL(fileURLWithPath: env("GEMKIT_CLI"))
    cli.arguments = [
        "generate", "--model", env("GEMKIT_MODEL"), "--prompt", prompt,
        "--temperature", "0", "--max-tokens", "\(tokens)", "--json",
    ]
    let out = Pipe()
    cli.standardOutput = out
    try cli.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    cli.waitUntilExit()
    // As for the Swift side: a run that stopped early has no decode speed to compare.
    guard cli.terminationStatus == 0,
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
        json["finish_reason"] as? String == "length",
        let stats = json["stats"] as? [String: Any],
        let speed = stats["decode_tok_s"] as? Double
    else {
        fatalError("gemkit generate: \(String(decoding: data, as: UTF8.self))")
    }
    return speed
}

let (prompt, tokens) = (env("GEMKIT_BENCH_PROMPT"), UInt32(env("GEMKIT_BENCH_TOKENS"))!)
let engine = try Engine.load(path: env("GEMKIT_MODEL"))
var swift: [Double] = []
var rust: [Double] = []
for _ in 0..<3 {
    swift.append(try swiftDecodeSpeed(engine, prompt, tokens))
    rust.append(try cliDecodeSpeed(prompt, tokens))
}
let (s, r) = (swift.sorted()[1], rust.sorted()[1])
print("decode tok/s, \(tokens) greedy tokens, medians of 3: "
    + String(format: "%.1f through a Swift listener, %.1f Rust CLI (%.2f×)", s, r, s / r))
