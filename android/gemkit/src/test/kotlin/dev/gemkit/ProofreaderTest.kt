package dev.gemkit

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.measureTime
import kotlin.time.measureTimedValue
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import org.junit.Test

/** The keyboard's proofreader: the diff, and stopping it by cancelling the caller or closing it. */
class ProofreaderTest : ModelTestBase() {
    @Test
    fun `a correction comes with its word diff against the text`() = blocking {
        model.proofreader().use { proofreader ->
            val text = "i has two cat and they is hungry"
            val correction = proofreader.proofread(text)
            assertTrue(correction.stats.generatedTokens > 0u)
            fun spell(skip: SegmentKind) = correction.segments.filter { it.kind != skip }.joinToString("") { it.text }
            assertEquals(text, spell(SegmentKind.INSERTED))
            assertEquals(correction.corrected, spell(SegmentKind.DELETED))
        }
    }

    /**
     * A long text takes many decode steps to correct (up to two tokens out for each token in). Cancelling
     * its caller a quarter of the way returns long before the correction would have ended (the
     * engine stops within a decode step or prefill chunk; how long that is depends on the load
     * of the machine, so the bound is relative), and the model is free at once: a request that
     * refuses to wait starts.
     */
    @Test
    fun `cancelling the caller stops the correction within a step and frees the model`() = blocking {
        model.proofreader().use { proofreader ->
            val (full, whole) = measureTimedValue { proofreader.proofread(LONG_TEXT) }
            // Tokens, not seconds: a fast machine corrects it in well under a second.
            assertTrue(full.stats.generatedTokens >= 32u, "the whole correction is ${full.stats.generatedTokens} tokens")
            val job = launch(Dispatchers.Default) { proofreader.proofread(LONG_TEXT) }
            delay(whole / 4)
            val returned = measureTime {
                job.cancel()
                job.join()
            }
            println("ProofreaderTest: a correction of $whole returned $returned after its cancel")
            assertTrue(job.isCancelled)
            assertTrue(returned < whole / 4, "$returned")
            val free = model.complete("Hello", options = greedy(2, WhenBusy.FAIL)).toList()
            assertEquals(2u, free.last().reply?.stats?.generatedTokens)
        }
    }

    @Test
    fun `closing the proofreader ends its corrections with the text unchanged`() = blocking {
        val proofreader = model.proofreader()
        val started = CompletableDeferred<Unit>()
        val correction = async(Dispatchers.Default) {
            started.complete(Unit)
            proofreader.proofread(LONG_TEXT)
        }
        started.await()
        delay(300.milliseconds)
        proofreader.close()
        val result = correction.await()
        assertEquals(FinishReason.CANCELLED, result.finishReason)
        assertEquals(LONG_TEXT, result.corrected)
        assertFailsWith<IllegalStateException> { proofreader.proofread("hello") }
    }

    private companion object {
        val LONG_TEXT = "i has two cat and they is hungry, so i feeds them fish every day. ".repeat(4).trim()
    }
}
