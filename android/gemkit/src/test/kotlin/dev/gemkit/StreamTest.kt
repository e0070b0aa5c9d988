package dev.gemkit

import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeoutOrNull
import org.junit.Test

/** Replies as Flows: the same tokens as the Rust CLI, events that add up, and cancelling the collector. */
class StreamTest : ModelTestBase() {
    @Test
    fun `a seeded completion streams exactly the Rust CLI's ids and text, its deltas adding up`() = blocking {
        val options = GenerationOptions(
            maxTokens = env("GEMKIT_SEEDED_MAX_TOKENS").toUInt(),
            sampling = Sampling(seed = env("GEMKIT_SEEDED_SEED").toULong()),
        )
        val events = model.complete(env("GEMKIT_SEEDED_PROMPT"), options = options).toList()
        val reply = checkNotNull(events.last().reply)
        assertEquals(env("GEMKIT_SEEDED_IDS").split(",").map { it.toUInt() }, reply.ids)
        assertEquals(env("GEMKIT_SEEDED_TEXT"), reply.text)
        assertEquals(FinishReason.LENGTH, reply.finishReason)
        assertEquals(reply.text, events.joinToString("") { it.delta })
        var soFar = ""
        for (event in events.dropLast(1)) {
            soFar += event.delta
            assertEquals(soFar, event.text)
            assertTrue(event.delta.isNotEmpty() && event.reply == null, "$event")
        }
        assertEquals(ChatEvent("", reply.text, reply), events.last())
    }

    @Test
    fun `a completion after a text prefix continues as the whole prompt does`() = blocking {
        val whole = model.complete("Once upon a time there lived", options = greedy(12)).toList().last().reply!!
        model.textPrefix("Once upon a time").use { prefix ->
            val after = model.complete(" there lived", prefix, greedy(12)).toList().last().reply!!
            assertEquals(whole.ids, after.ids)
            assertTrue(after.stats.promptTokens < whole.stats.promptTokens, "${after.stats} vs ${whole.stats}")
        }
    }

    /**
     * Cancels the collector after 1, 4 and 12 events and counts, on the whole greedy reply's
     * tokens, how many more the chat kept than the collector saw: the tokens generated after
     * the cancel. Each chat then continues exactly as a twin whose first reply stopped at the
     * same token by its limit.
     */
    @Test
    fun `cancelling the collector stops the reply within a token, and the chat continues as if it had stopped there`() = blocking {
        val full = model.chatSession().use { it.reply(LONG_PROMPT, greedy(48)) }
        assertTrue(full.ids.size > 20, "the whole reply is long enough to cancel: $full")
        val afterCancel = mutableListOf<Int>()
        for (stopAfter in listOf(1, 4, 12)) {
            model.chatSession().use { chat ->
                val seen = chat.send(LONG_PROMPT, greedy(48)).take(stopAfter).toList()
                assertEquals(stopAfter, seen.size)
                chat.responding.first { !it }
                val seenText = seen.last().text
                val kept = chat.history().last().text
                assertTrue(kept.startsWith(seenText) && full.text.startsWith(kept), "saw \"$seenText\", kept \"$kept\"")
                val keptTokens = tokensSpelling(kept, full.ids)
                afterCancel += keptTokens - tokensSpelling(seenText, full.ids)
                model.chatSession().use { twin ->
                    assertEquals(FinishReason.LENGTH, twin.reply(LONG_PROMPT, greedy(keptTokens)).finishReason)
                    assertEquals(twin.history(), chat.history())
                    assertEquals(twin.reply("And then?", greedy(16)).ids, chat.reply("And then?", greedy(16)).ids)
                }
            }
        }
        println("StreamTest: tokens generated after the collector's cancel, stopping after 1, 4, 12 events: $afterCancel")
        assertTrue(afterCancel.all { it in 0..1 }, "$afterCancel")
    }

    @Test
    fun `a cancel during the prefill undoes the turn`() = blocking {
        model.chatSession().use { chat ->
            val long = "word ".repeat(1500) // about a second of prefill here
            assertNull(withTimeoutOrNull(50.milliseconds) { chat.send(long, greedy(8)).toList() })
            chat.responding.first { !it }
            assertEquals(emptyList(), chat.history().map { it.role })
            assertEquals(4u, chat.reply("Hello", greedy(4)).stats.generatedTokens)
            assertEquals(2, chat.history().size)
        }
    }

    /** How many of the first [ids] spell [text] exactly (the engine's own detokenizer decides). */
    private fun tokensSpelling(text: String, ids: List<UInt>): Int = Engine.load(modelFile.path, EngineOptions(contextLength = 64u)).use { engine ->
        (0..ids.size).firstOrNull { engine.detokenize(ids.take(it)) == text } ?: throw AssertionError("no prefix of $ids spells \"$text\"")
    }

    private fun env(name: String): String = System.getenv(name) ?: throw AssertionError("$name is unset: run scripts/test-kotlin.sh")
}
