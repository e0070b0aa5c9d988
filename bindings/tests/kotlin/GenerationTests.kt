// Streamed raw completions: the same text as Rust for the same seed, prefixes, cancelling from
// another thread or by closing the handle, listeners that throw, proofreading.
package dev.gemkit.tests

import dev.gemkit.CallbackException
import dev.gemkit.CancelToken
import dev.gemkit.FinishReason
import dev.gemkit.GemKitException
import dev.gemkit.GenerateOptions
import dev.gemkit.LogLevel
import dev.gemkit.LogRecord
import dev.gemkit.Logger
import dev.gemkit.Sampling
import dev.gemkit.SegmentKind
import dev.gemkit.initLogging
import java.util.Collections
import java.util.concurrent.CountDownLatch
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

const val LONG_PROMPT = "Write a very long story about a lighthouse keeper:"

class GenerationTests {
    private val engine = Model.engine

    @Test
    fun `a seeded completion streams exactly what the Rust CLI gives`() {
        val options = GenerateOptions(
            maxTokens = env("GEMKIT_SEEDED_MAX_TOKENS").toUInt(),
            sampling = Sampling(seed = env("GEMKIT_SEEDED_SEED").toULong()),
        )
        val c = Collector()
        engine.complete(null, env("GEMKIT_SEEDED_PROMPT"), c, options).use {
            val reply = c.reply()
            assertEquals(env("GEMKIT_SEEDED_IDS").split(",").map { it.toUInt() }, reply.ids)
            assertEquals(env("GEMKIT_SEEDED_TEXT"), reply.text)
            assertEquals(reply.text, c.text)
            assertEquals(FinishReason.LENGTH, reply.finishReason)
            assertNotEquals(Thread.currentThread(), c.thread)
        }
    }

    @Test
    fun `a completion after a prefix continues as the whole prompt does`() {
        val whole = Collector()
        val expected = engine.complete(null, "Once upon a time there lived", whole, greedy(12u)).use { whole.reply() }
        engine.prefix("Once upon a time").use { prefix ->
            val after = Collector()
            engine.complete(prefix, " there lived", after, greedy(12u)).use {
                val reply = after.reply()
                assertEquals(expected.ids, reply.ids)
                assertEquals(engine.tokenize(" there lived", addSpecial = false).size.toUInt(), reply.stats.promptTokens)
            }
        }
    }

    @Test
    fun `cancel from another thread stops a long generation`() {
        val cancelled = CountDownLatch(1)
        val c = Collector(onPiece = { i, _ -> if (i == 0) cancelled.awaitOrFail("the cancel") })
        engine.complete(null, LONG_PROMPT, c, greedy(2000u)).use { handle ->
            c.firstText.awaitOrFail("the story")
            thread { handle.cancel() }.join()
            cancelled.countDown()
            val reply = c.reply()
            assertEquals(FinishReason.CANCELLED, reply.finishReason)
            assertEquals(c.text, reply.text)
            assertTrue(reply.stats.generatedTokens < 2000u)
            while (!handle.isFinished()) Thread.yield()
        }
    }

    @Test
    fun `closing the handle cancels its request`() {
        val closed = CountDownLatch(1)
        val c = Collector(onPiece = { i, _ -> if (i == 0) closed.awaitOrFail("the close") })
        val handle = engine.complete(null, LONG_PROMPT, c, greedy(2000u))
        c.firstText.awaitOrFail("the story")
        handle.close()
        closed.countDown()
        assertEquals(FinishReason.CANCELLED, c.reply().finishReason)
    }

    @Test
    fun `a listener that throws cancels its request, whatever it throws`() {
        val warnings = Collections.synchronizedList(mutableListOf<String>())
        initLogging(LogLevel.WARN, object : Logger {
            override fun log(record: LogRecord) {
                if (record.target.startsWith("gemkit_ffi")) warnings += record.message
            }
        })
        try {
            val throwables = listOf(
                IllegalStateException("the app gave up"),
                CallbackException.Failed("the app gave up"),
                GemKitException.Busy("the app gave up"),
            )
            for (thrown in throwables) {
                val c = Collector(onPiece = { i, _ -> if (i == 1) throw thrown }, onLast = { throw thrown })
                engine.complete(null, LONG_PROMPT, c, greedy(200u)).use {
                    val reply = c.reply()
                    assertEquals(FinishReason.CANCELLED, reply.finishReason, "$thrown")
                    assertEquals(c.text, reply.text)
                    assertTrue(reply.stats.generatedTokens < 10u, "${reply.stats}")
                }
            }
            val after = Collector()
            engine.complete(null, "Hello", after, greedy(4u)).use { assertEquals(4u, after.reply().stats.generatedTokens) }
        } finally {
            initLogging(LogLevel.ERROR, null)
        }
        assertEquals(6, warnings.size, "$warnings")
        // Kotlin sends an unexpected exception's stack trace: its first line ends with the message.
        for (w in warnings) assertTrue(w.startsWith("the listener threw") && w.lines()[0].endsWith("the app gave up"), w)
    }

    @Test
    fun `proofread diffs its correction, a cancelled token keeps the text`() {
        val text = "i has two cat and they is hungry"
        val result = engine.proofread(text)
        assertTrue(result.stats.generatedTokens > 0u)
        if (result.finishReason != FinishReason.STOP_TOKEN) assertEquals(text, result.corrected)
        fun spell(skip: SegmentKind) = result.segments.filter { it.kind != skip }.joinToString("") { it.text }
        assertEquals(text, spell(SegmentKind.INSERTED))
        assertEquals(result.corrected, spell(SegmentKind.DELETED))
        CancelToken().use { token ->
            token.cancel()
            val untouched = engine.proofread(text, token)
            assertEquals(FinishReason.CANCELLED, untouched.finishReason)
            assertEquals(text, untouched.corrected)
        }
    }
}
