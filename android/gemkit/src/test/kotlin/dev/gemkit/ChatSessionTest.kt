package dev.gemkit

import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.toList
import org.junit.Test

/** Sessions: busy requests, `responding`, prefixes, save and restore, closing, a full context. */
class ChatSessionTest : ModelTestBase() {
    @Test
    fun `a second send while one runs fails with Busy when asked not to wait, and queues otherwise`() = blocking {
        model.chatSession().use { chat ->
            assertFalse(chat.responding.value)
            val first = sendUntilFirstEvent(chat, LONG_PROMPT, greedy(48))
            assertTrue(chat.responding.value)
            val busy = assertFailsWith<GemmaException.Busy> { chat.reply("Hi", greedy(4, WhenBusy.FAIL)) }
            assertEquals("busy: the model is running another request", busy.message)
            val second = chat.reply("Hi", greedy(4, WhenBusy.WAIT))
            val firstReply = checkNotNull(first.await().last().reply)
            assertEquals(listOf(LONG_PROMPT, firstReply.text, "Hi", second.text), chat.history().map { it.text })
            assertFalse(chat.responding.value)
        }
    }

    @Test
    fun `a session from a chat prefix replies as a plain one, prefilling less`() = blocking {
        val system = "Answer in one short sentence."
        model.chatPrefix(system).use { prefix ->
            model.chatSession(prefix).use { fast ->
                model.chatSession(system).use { plain ->
                    val a = plain.reply("What is the sun?", greedy(16))
                    val b = fast.reply("What is the sun?", greedy(16))
                    assertEquals(a.ids, b.ids)
                    assertEquals(a.stats.promptTokens - prefix.tokenCount.toUInt(), b.stats.promptTokens)
                    assertEquals(plain.history(), fast.history())
                }
            }
        }
    }

    @Test
    fun `a saved session restores and continues identically`() = blocking {
        val file = File.createTempFile("gemkit-", ".chat").apply { deleteOnExit() }
        model.chatSession("Answer in one short sentence.").use { chat ->
            chat.reply("What is rain?", greedy(12))
            chat.save(file)
            model.restoreChat(file).use { restored ->
                assertEquals(chat.history(), restored.history())
                assertEquals(chat.reply("And snow?", greedy(16)).ids, restored.reply("And snow?", greedy(16)).ids)
            }
        }
    }

    @Test
    fun `closing a session cancels its reply, closing the model closes what it made`() = blocking {
        val chat = model.chatSession()
        val cancelled = sendUntilFirstEvent(chat, LONG_PROMPT, greedy(2000))
        chat.close()
        assertEquals(FinishReason.CANCELLED, cancelled.await().last().reply?.finishReason)
        assertFailsWith<IllegalStateException> { chat.send("Hi").toList() }

        val other = model.chatSession()
        val prefix = model.textPrefix("Once upon a time")
        val running = sendUntilFirstEvent(other, LONG_PROMPT, greedy(2000))
        model.close()
        assertEquals(FinishReason.CANCELLED, running.await().last().reply?.finishReason)
        assertFailsWith<IllegalStateException> { other.history() }
        assertFailsWith<IllegalStateException> { prefix.tokenCount }
        assertFailsWith<IllegalStateException> { model.chatSession() }
        assertFailsWith<IllegalStateException> { model.complete("Hi").toList() }
    }

    @Test
    fun `a message longer than the context is ContextFull, with its size`() = blocking {
        GemmaModel.load(context, modelFile, LoadOptions(contextLength = 64)).use { small ->
            small.chatSession().use { chat ->
                val e = assertFailsWith<GemmaException.ContextFull> { chat.reply("word ".repeat(100), greedy(4)) }
                assertEquals(64, e.contextSize)
                assertTrue(e.tokens > 100, "${e.tokens}")
                assertEquals("context full: needs ${e.tokens} tokens, limit 64", e.message)
                assertEquals(emptyList(), chat.history())
            }
        }
    }

    @Test
    fun `ContextFull's numbers are the engine's fields, not read from its message`() {
        val e = GemKitException.ContextFull("the context is full", 9000u, 8192u).toGemma()
        assertIs<GemmaException.ContextFull>(e)
        assertEquals(9000 to 8192, e.tokens to e.contextSize)
        assertEquals("the context is full", e.message)
        val huge = assertIs<GemmaException.ContextFull>(GemKitException.ContextFull("", UInt.MAX_VALUE, 8u).toGemma())
        assertEquals(Int.MAX_VALUE, huge.tokens) // saturated, never negative
    }
}
