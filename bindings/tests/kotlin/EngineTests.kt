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
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class EngineTests {
    private val modelPath = Model.path

    @Test
    fun `loads the model and reports its shape`() {
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

    @Test
    fun `options reach the core`() {
        val f16 = Engine.load(modelPath, EngineOptions(contextLength = 256u, threads = 1u)).use { it.info() }
        assertEquals(256u, f16.contextLength)
        assertEquals(1u, f16.threads)
        val f32 = Engine.load(modelPath, EngineOptions(contextLength = 256u, kvType = KvType.F32)).use { it.info() }
        assertEquals(2u * f16.kvCacheBytes, f32.kvCacheBytes)
    }

    @Test
    fun `the estimate is what the engine then holds`() {
        val estimate = estimateMemory(modelPath)
        assertEquals(estimate.fixedBytes + estimate.scratchBytes + estimate.kvCacheBytes, estimate.anonymousBytes)
        Engine.load(modelPath).use { engine ->
            assertEquals(estimate.kvCacheBytes, engine.info().kvCacheBytes)
            assertEquals(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
            engine.newChat().use { assertEquals(estimate.anonymousBytes, engine.memoryInUse()) }
            assertEquals(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
        }
    }

    @Test
    fun `the memory budget refuses a load, or shrinks the context to fit`() {
        val estimate = estimateMemory(modelPath)
        val budget = estimate.anonymousBytes - 1u
        val e = assertFailsWith<GemKitException.OutOfMemory> {
            Engine.load(modelPath, EngineOptions(memoryBudget = budget))
        }
        assertEquals("memory budget exceeded: needs ${estimate.anonymousBytes} bytes, $budget available", e.reason)

        val fitted = EngineOptions(memoryBudget = budget, fitContextToBudget = true)
        val shrunk = estimateMemory(modelPath, fitted)
        assertTrue(shrunk.contextLength < estimate.contextLength && shrunk.anonymousBytes <= budget, "$shrunk")
        Engine.load(modelPath, fitted).use { engine ->
            assertEquals(shrunk.contextLength, engine.info().contextLength)
            engine.newChat().use {
                // The budget holds the model and one chat.
                val second = assertFailsWith<GemKitException.OutOfMemory> { engine.newChat(ChatOptions()) }
                assertTrue(second.reason.startsWith("memory budget exceeded: needs "), second.reason)
            }
        }
    }

    @Test
    fun `tokenize and detokenize`() {
        Engine.load(modelPath, EngineOptions(contextLength = 64u)).use { engine ->
            val ids = engine.tokenize("Hello, world!", addSpecial = true)
            assertEquals(listOf(2u, 9259u, 236764u, 1902u, 236888u), ids)
            assertEquals(ids.drop(1), engine.tokenize("Hello, world!", addSpecial = false))
            assertEquals("Hello, world!", engine.detokenize(ids))
        }
    }

    /** The one record a load logs, with what it says: the file, its shape and the options. */
    private fun assertLoadRecord(record: LogRecord) {
        assertEquals(LogLevel.INFO, record.level)
        assertTrue(record.target.startsWith("gemkit::"), record.target)
        val expected = Regex("loaded ${Regex.escape(modelPath)} \\(18 layers, 64 context, \\d+ threads\\) in \\S+")
        assertTrue(expected.matches(record.message), record.message)
    }

    private fun loads(records: List<LogRecord>) = synchronized(records) { records.filter { it.message.startsWith("loaded ") } }

    @Test
    fun `the logger receives the engine's records`() {
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
        assertLoadRecord(loads(records).single())
    }

    @Test
    fun `a logger that throws loses the record, not the call nor the next records`() {
        val records = Collections.synchronizedList(mutableListOf<LogRecord>())
        initLogging(LogLevel.INFO, object : Logger {
            override fun log(record: LogRecord) {
                records += record
                // GemKitException is the one type UniFFI cannot bring back into Rust: try both.
                if (records.size % 2 == 0) throw IllegalStateException("logger failed")
                throw GemKitException.Internal("logger failed")
            }
        })
        try {
            repeat(2) { Engine.load(modelPath, EngineOptions(contextLength = 64u)).close() }
        } finally {
            initLogging(LogLevel.ERROR, null)
        }
        val loaded = loads(records)
        assertEquals(2, loaded.size, "$records")
        loaded.forEach(::assertLoadRecord)
    }
}
