// The generated Kotlin against the host-built library and the real model. scripts/test-kotlin.sh
// sets the environment: the model's path and what the Rust CLI produced for the same requests.
package dev.gemkit.tests

import dev.gemkit.Engine
import dev.gemkit.EngineOptions

fun env(name: String): String = System.getenv(name) ?: error("$name is unset: run scripts/test-kotlin.sh")

fun main() {
    val modelPath = env("GEMKIT_MODEL")
    val t = Harness()
    // One engine for the tests that do not need their own options; it lives as long as the run.
    val engine = Engine.load(modelPath, EngineOptions())
    engineTests(t, modelPath)
    errorTests(t, engine, modelPath)
    generationTests(t, engine)
    chatTests(t, engine, modelPath)
    t.runAndExit()
}
