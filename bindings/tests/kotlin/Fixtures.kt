// What every test class shares: the environment scripts/test-kotlin.sh sets (the model's path
// and what the Rust CLI produced for the same requests) and one engine for the tests that do
// not need their own options, which lives as long as the test JVM.
package dev.gemkit.tests

import dev.gemkit.Engine
import dev.gemkit.EngineOptions
import java.io.File

fun env(name: String): String = System.getenv(name) ?: error("$name is unset: run scripts/test-kotlin.sh")

object Model {
    val path: String by lazy { env("GEMKIT_MODEL") }
    val engine: Engine by lazy { Engine.load(path, EngineOptions()) }
}

fun tempFile(name: String): File = File.createTempFile("gemkit-", "-$name").apply { deleteOnExit() }
