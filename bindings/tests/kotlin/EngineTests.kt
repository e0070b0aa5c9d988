// Loading and what an engine reports: its shape, options, memory and budget, tokens, logging.
package dev.gemkit.tests

import dev.gemkit.ChatOptions
import dev.gemkit.Engine
import dev.gemkit.EngineOptions
import dev.gemkit.GemKitException
import dev.gemkit.KvType
import dev.gemkit.LogLevel
import dev.gemkit.LogRecord
import dev.gemkit.Logger
import dev.gemkit.estimateMemory
import dev.gemkit.initLogging
import java.io.File
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

fun engineTests(t: Harness, modelPath: String) {
    t.test("loads the model and reports its shape") {
        Engine.load(modelPath).use { engine ->
            val info = engine.info()
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
        val f16 = Engine.load(modelPath, EngineOptions(contextLength = 256u, threads = 1u)).use { it.info() }
        assertEquals(256u, f16.contextLength)
        assertEquals(1u, f16.threads)
        val f32 = Engine.load(modelPath, EngineOptions(contextLength = 256u, kvType = KvType.F32)).use { it.info() }
        assertEquals(2u * f16.kvCacheBytes, f32.kvCacheBytes)
    }

    t.test("the estimate is what the engine then holds") {
        val estimate = estimateMemory(modelPath)
        assertEquals(estimate.fixedBytes + estimate.scratchBytes + estimate.kvCacheBytes, estimate.anonymousBytes)
        Engine.load(modelPath).use { engine ->
            assertEquals(estimate.kvCacheBytes, engine.info().kvCacheBytes)
            assertEquals(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
            engine.newChat().use { assertEquals(estimate.anonymousBytes, engine.memoryInUse()) }
            assertEquals(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
        }
    }

    t.test("the memory budget refuses a load, or shrinks the context to fit") {
        val estimate = estimateMemory(modelPath)
        val budget = estimate.anonymousBytes - 1u
        val e = assertFailsWith<GemKitException.OutOfMemory> {
            Engine.load(modelPath, EngineOptions(memoryBudget = budget))
        }
        assertEquals("memory budget exceeded: needs ${estimate.anonymousBytes} bytes, $budget available", e.message)

        val fitted = EngineOptions(memoryBudget = budget, fitContextToBudget = true)
        val shrunk = estimateMemory(modelPath, fitted)
        assertTrue(shrunk.contextLength < estimate.contextLength && shrunk.anonymousBytes <= budget, "$shrunk")
        Engine.load(modelPath, fitted).use { engine ->
            assertEquals(shrunk.contextLength, engine.info().contextLength)
            engine.newChat().use {
                // The budget holds the model and one chat.
                val second = assertFailsWith<GemKitException.OutOfMemory> { engine.newChat(ChatOptions()) }
                assertTrue(second.message!!.startsWith("memory budget exceeded: needs "), second.message)
            }
        }
    }

    t.test("tokenize and detokenize") {
        Engine.load(modelPath, EngineOptions(contextLength = 64u)).use { engine ->
            val ids = engine.tokenize("Hello, world!", addSpecial = true)
            assertEquals(listOf(2u, 9259u, 236764u, 1902u, 236888u), ids)
            assertEquals(ids.drop(1), engine.tokenize("Hello, world!", addSpecial = false))
            assertEquals("Hello, world!", engine.detokenize(ids))
        }
    }

    t.test("the logger receives the engine's records") {
        val records = Collections.synchronizedList(mutableListOf<LogRecord>())
        initLogging(LogLevel.INFO, object : Logger {
            override fun log(record: LogRecord) {
                records += record
            }
        })
        try {
            Engine.load(modelPath, EngineOptions(contextLength = 64u)).close()
        } finally {
            initLogging(LogLevel.ERROR, null)
        }
        val loaded = records.single { it.message.startsWith("loaded ") }
        assertEquals(LogLevel.INFO, loaded.level)
        assertTrue(loaded.target.startsWith("gemkit"), loaded.target)
        assertTrue(loaded.message.contains(modelPath), loaded.message)
    }

    t.test("a logger that throws loses the record, not the call") {
        val calls = AtomicInteger()
        initLogging(LogLevel.INFO, object : Logger {
            override fun log(record: LogRecord) {
                // GemKitException is the one type UniFFI cannot bring back into Rust.
                if (calls.incrementAndGet() % 2 == 0) throw IllegalStateException("logger failed")
                throw GemKitException.Internal("logger failed")
            }
        })
        try {
            repeat(2) { Engine.load(modelPath, EngineOptions(contextLength = 64u)).close() }
        } finally {
            initLogging(LogLevel.ERROR, null)
        }
        assertTrue(calls.get() >= 2, "the logger was called ${calls.get()} times")
    }
}
