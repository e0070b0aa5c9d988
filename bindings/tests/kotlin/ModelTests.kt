// The generated Kotlin against the host-built library and the real model: what loads, what a
// model reports, and every error as an app sees it (type and the core's message).
package dev.gemkit.tests

import dev.gemkit.GemKitException
import dev.gemkit.LogLevel
import dev.gemkit.LogRecord
import dev.gemkit.Logger
import dev.gemkit.ModelOptions
import dev.gemkit.initLogging
import dev.gemkit.loadModel
import java.io.File
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

fun main() {
    val modelPath = System.getenv("GEMKIT_MODEL") ?: error("set GEMKIT_MODEL to the model's path")
    val t = Harness()

    t.test("loads the model and reports its shape") {
        loadModel(modelPath, ModelOptions()).use { model ->
            val info = model.info()
            assertEquals("gemma3", info.architecture)
            assertEquals(18u, info.layers)
            assertEquals(640u, info.embeddingLength)
            assertEquals(4u, info.heads)
            assertEquals(1u, info.kvHeads)
            assertEquals(256u, info.headDim)
            assertEquals(262144u, info.vocabSize)
            assertEquals(32768u, info.trainContext)
            assertEquals(4096u, info.contextLength)
            assertEquals(512u, info.slidingWindow)
            assertEquals(15u, info.slidingLayers)
            assertEquals(File(modelPath).length().toULong(), info.fileBytes)
            assertEquals(246587904uL, info.tensorBytes)
            assertTrue(info.kvCacheBytes > 0u && info.loadMs > 0.0)
        }
    }

    t.test("options reach the core") {
        loadModel(modelPath, ModelOptions(contextLength = 256u, threads = 1u)).use { model ->
            val info = model.info()
            assertEquals(256u, info.contextLength)
            assertEquals(1u, info.threads)
        }
    }

    t.test("tokenize and detokenize") {
        loadModel(modelPath, ModelOptions(contextLength = 64u)).use { model ->
            val ids = model.tokenize("Hello, world!", addSpecial = true)
            assertEquals(listOf(2u, 9259u, 236764u, 1902u, 236888u), ids)
            assertEquals(ids.drop(1), model.tokenize("Hello, world!", addSpecial = false))
            assertEquals("Hello, world!", model.detokenize(ids))
        }
    }

    t.test("a missing file is Io, with the core's message") {
        val e = assertFailsWith<GemKitException.Io> { loadModel("/nonexistent/model.gguf", ModelOptions()) }
        assertEquals("cannot open /nonexistent/model.gguf: No such file or directory (os error 2)", e.message)
    }

    t.test("a corrupt file is InvalidModel") {
        val bad = File.createTempFile("corrupt", ".gguf").apply { deleteOnExit(); writeText("not a model") }
        val e = assertFailsWith<GemKitException.InvalidModel> { loadModel(bad.path, ModelOptions()) }
        assertTrue(e.message!!.startsWith("invalid GGUF file: "), e.message)
    }

    t.test("impossible options are InvalidArgument") {
        val threads = assertFailsWith<GemKitException.InvalidArgument> {
            loadModel(modelPath, ModelOptions(threads = 100000u))
        }
        assertEquals("invalid argument: threads must be 1 to 256, not 100000", threads.message)
        val context = assertFailsWith<GemKitException.InvalidArgument> {
            loadModel(modelPath, ModelOptions(contextLength = 1000000u))
        }
        assertEquals(
            "invalid argument: context length 1000000 exceeds the 32768 tokens the model was trained with",
            context.message,
        )
    }

    t.test("an unknown token id is InvalidArgument") {
        loadModel(modelPath, ModelOptions(contextLength = 64u)).use { model ->
            val e = assertFailsWith<GemKitException.InvalidArgument> { model.detokenize(listOf(2u, 999999u)) }
            assertEquals("token id 999999 is outside the vocabulary of 262144 tokens", e.message)
        }
    }

    t.test("the logger receives the engine's records") {
        val records = Collections.synchronizedList(mutableListOf<LogRecord>())
        initLogging(LogLevel.INFO, object : Logger {
            override fun log(record: LogRecord) {
                records += record
            }
        })
        loadModel(modelPath, ModelOptions(contextLength = 64u)).close()
        initLogging(LogLevel.ERROR, null)
        val loaded = records.single { it.message.startsWith("loaded ") }
        assertEquals(LogLevel.INFO, loaded.level)
        assertTrue(loaded.target.startsWith("gemkit"), loaded.target)
        assertTrue(loaded.message.contains(modelPath), loaded.message)
    }

    t.test("a logger that throws loses the record, not the call") {
        val calls = AtomicInteger()
        initLogging(LogLevel.INFO, object : Logger {
            override fun log(record: LogRecord) {
                calls.incrementAndGet()
                throw IllegalStateException("logger failed")
            }
        })
        try {
            loadModel(modelPath, ModelOptions(contextLength = 64u)).close()
        } finally {
            initLogging(LogLevel.ERROR, null)
        }
        assertTrue(calls.get() > 0, "the logger was never called")
    }

    t.runAndExit()
}
