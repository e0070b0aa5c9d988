// `make bench-bindings`: what a Kotlin listener costs in decode speed. The same greedy completion
// through the bindings and through the Rust CLI (`gemkit generate --json`), alternately, three
// times each; prints the medians. A measurement, not a test: nothing here can fail on speed.
package dev.gemkit.tests

import dev.gemkit.FinishReason

fun main() {
    val prompt = env("GEMKIT_BENCH_PROMPT")
    val tokens = env("GEMKIT_BENCH_TOKENS").toUInt()
    val kotlin = mutableListOf<Double>()
    val rust = mutableListOf<Double>()
    repeat(3) {
        val c = Collector()
        val reply = Model.engine.complete(null, prompt, c, greedy(tokens)).use { c.reply() }
        check(reply.finishReason == FinishReason.LENGTH) { "the completion stopped early: ${reply.finishReason}" }
        kotlin += reply.stats.decodeTokS
        rust += cliDecodeSpeed(prompt, tokens)
    }
    val (k, r) = kotlin.sorted()[1] to rust.sorted()[1]
    println("Kotlin listener: decode tok/s, $tokens greedy tokens, medians of 3: %.1f through a Kotlin listener, %.1f Rust CLI (%.2f×)".format(k, r, k / r))
}

/** Decode tok/s of the same greedy completion by the Rust CLI. */
fun cliDecodeSpeed(prompt: String, tokens: UInt): Double {
    val cli = ProcessBuilder(
        env("GEMKIT_CLI"), "generate", "--model", Model.path, "--prompt", prompt,
        "--temperature", "0", "--max-tokens", "$tokens", "--json",
    ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val out = cli.inputStream.bufferedReader().readText()
    check(cli.waitFor() == 0) { "gemkit generate failed" }
    val speed = Regex("\"decode_tok_s\":([^,}]+)").find(out) ?: error("no decode_tok_s in $out")
    return speed.groupValues[1].toDouble()
}
