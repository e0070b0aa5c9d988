// Streamed raw completions: the same text as Rust for the same seed, prefixes, cancelling from
// another thread or by releasing the handle, listeners that throw, proofreading, and what the
// listener costs in decode speed.
import Foundation
import GemKit

let longPrompt = "Write a very long story about a lighthouse keeper:"

/// Runs a completion to its reply.
func complete(_ engine: Engine, _ prefix: Prefix?, _ prompt: String, _ options: GenerateOptions) throws -> (Reply, Collector) {
    let c = Collector()
    let handle = try engine.complete(prefix: prefix, prompt: prompt, listener: c, options: options)
    return try withExtendedLifetime(handle) { (try c.reply(), c) }
}

func generationTests(_ t: Harness, _ engine: Engine) {
    t.test("a seeded completion streams exactly what the Rust CLI gives") {
        let options = GenerateOptions(
            maxTokens: UInt32(env("GEMKIT_SEEDED_MAX_TOKENS"))!,
            sampling: Sampling(seed: UInt64(env("GEMKIT_SEEDED_SEED"))!))
        let (reply, c) = try complete(engine, nil, env("GEMKIT_SEEDED_PROMPT"), options)
        try expectEqual(env("GEMKIT_SEEDED_IDS").split(separator: ",").map { UInt32($0)! }, reply.ids)
        try expectEqual(env("GEMKIT_SEEDED_TEXT"), reply.text)
        try expectEqual(reply.text, c.text)
        try expectEqual(.length, reply.finishReason)
        try expect(!c.wasCalledOnMainThread, "the listener ran on the caller's thread")
    }

    t.test("a completion after a prefix continues as the whole prompt does") {
        let (whole, _) = try complete(engine, nil, "Once upon a time there lived", greedy(12))
        let prefix = try engine.prefix(text: "Once upon a time")
        let (after, _) = try complete(engine, prefix, " there lived", greedy(12))
        try expectEqual(whole.ids, after.ids)
        try expectEqual(UInt32(try engine.tokenize(text: " there lived", addSpecial: false).count), after.stats.promptTokens)
    }

    t.test("cancel from another thread stops a long generation") {
        let cancelled = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try cancelled.wait(for: "the cancel") } })
        let handle = try engine.complete(prefix: nil, prompt: longPrompt, listener: c, options: greedy(2000))
        try c.firstText.wait(for: "the story")
        let done = Latch()
        Thread {
            handle.cancel()
            done.open()
        }.start()
        try done.wait(for: "the other thread")
        cancelled.open()
        let reply = try c.reply()
        try expectEqual(.cancelled, reply.finishReason)
        try expectEqual(c.text, reply.text)
        try expect(reply.stats.generatedTokens < 2000, "\(reply.stats)")
        while !handle.isFinished() { Thread.sleep(forTimeInterval: 0.001) }
    }

    t.test("releasing the handle cancels its request") {
        let released = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try released.wait(for: "the release") } })
        var handle: GenerationHandle? = try engine.complete(prefix: nil, prompt: longPrompt, listener: c, options: greedy(2000))
        try c.firstText.wait(for: "the story")
        try expect(handle?.isFinished() == false, "finished while its listener waits")
        handle = nil
        released.open()
        try expectEqual(.cancelled, try c.reply().finishReason)
    }

    t.test("a listener that throws cancels its request, whatever it throws") {
        let recorder = Recorder(prefix: "gemkit_ffi")
        initLogging(level: .warn, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        let thrown: [Error] = [
            Failure(description: "the app gave up"),
            CallbackError.Failed(reason: "the app gave up"),
            GemKitError.Busy(message: "the app gave up"),
        ]
        for error in thrown {
            let c = Collector(onPiece: { i, _ in if i == 1 { throw error } }, onLast: { throw error })
            let handle = try engine.complete(prefix: nil, prompt: longPrompt, listener: c, options: greedy(200))
            try withExtendedLifetime(handle) {
                let reply = try c.reply()
                try expectEqual(.cancelled, reply.finishReason)
                try expectEqual(c.text, reply.text)
                try expect(reply.stats.generatedTokens < 10, "\(reply.stats)")
            }
        }
        try expectEqual(4, try complete(engine, nil, "Hello", greedy(4)).0.stats.generatedTokens)
        let warnings = recorder.records.map(\.message)
        try expectEqual(6, warnings.count)
        for w in warnings {
            try expect(w.hasPrefix("the listener threw") && w.hasSuffix("the app gave up"), w)
        }
    }

    t.test("proofread diffs its correction; a cancelled token keeps the text") {
        let text = "i has two cat and they is hungry"
        let result = try engine.proofread(text: text)
        try expect(result.stats.generatedTokens > 0, "\(result.stats)")
        if result.finishReason != .stopToken { try expectEqual(text, result.corrected) }
        func spell(_ skip: SegmentKind) -> String {
            result.segments.filter { $0.kind != skip }.map(\.text).joined()
        }
        try expectEqual(text, spell(.inserted))
        try expectEqual(result.corrected, spell(.deleted))
        let token = CancelToken()
        token.cancel()
        let untouched = try engine.proofread(text: text, cancel: token)
        try expectEqual(.cancelled, untouched.finishReason)
        try expectEqual(text, untouched.corrected)
    }

    t.test("listener cost: decode speed through Swift beside the Rust CLI, alternately") {
        let (prompt, tokens) = (env("GEMKIT_BENCH_PROMPT"), UInt32(env("GEMKIT_BENCH_TOKENS"))!)
        var swift: [Double] = []
        var rust: [Double] = []
        for _ in 0..<3 {
            let (reply, _) = try complete(engine, nil, prompt, greedy(tokens))
            try expectEqual(.length, reply.finishReason)
            swift.append(reply.stats.decodeTokS)
            rust.append(try cliDecodeSpeed(prompt, tokens))
        }
        let (s, r) = (swift.sorted()[1], rust.sorted()[1])
        print("     decode tok/s, \(tokens) greedy tokens, medians of 3: "
            + String(format: "%.1f through a Swift listener, %.1f Rust CLI (%.2f×)", s, r, s / r))
    }
}

/// Decode tok/s of the same greedy completion by the Rust CLI (`gemkit generate --json`).
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
    guard cli.terminationStatus == 0,
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
        let stats = json["stats"] as? [String: Any],
        let speed = stats["decode_tok_s"] as? Double
    else {
        throw Failure(description: "gemkit generate: \(String(decoding: data, as: UTF8.self))")
    }
    return speed
}
