package dev.gemkit

import android.app.Application
import android.content.ComponentCallbacks2
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertSame
import kotlin.test.assertTrue
import kotlin.time.measureTimedValue
import org.junit.Test

/**
 * The memory policy on the real model, driven through the Application's callbacks as Android
 * delivers them: what each level frees, that a freed session continues exactly as an untouched
 * twin (a session of a second model, with no policy, given the same turns), and what happens to
 * a reply that runs meanwhile.
 */
class MemoryPressureTest : ModelTestBase() {
    private val app: Application get() = context as Application

    @Test
    @Suppress("DEPRECATION")
    fun `trim levels map exactly, and the default policy frees caches, then the model`() {
        val levels = mapOf(
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_MODERATE to MemoryPressure.LOW,
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_LOW to MemoryPressure.LOW,
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_CRITICAL to MemoryPressure.LOW,
            ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN to MemoryPressure.HIDDEN,
            ComponentCallbacks2.TRIM_MEMORY_BACKGROUND to MemoryPressure.LOW,
            ComponentCallbacks2.TRIM_MEMORY_MODERATE to MemoryPressure.LOW,
            ComponentCallbacks2.TRIM_MEMORY_COMPLETE to MemoryPressure.CRITICAL,
        )
        for (level in -1..100) assertEquals(levels[level], MemoryPressure.ofTrimLevel(level), "level $level")
        assertEquals(
            listOf(MemoryRelease.CACHES, MemoryRelease.CACHES, MemoryRelease.MODEL),
            MemoryPressure.entries.map { MemoryPolicy.DEFAULT.release(it) },
        )
    }

    @Test
    fun `UI_HIDDEN frees idle sessions' caches, and a freed session continues as its untouched twin`() = blocking {
        twinModel().use { twins ->
            model.chatSession("Answer in one short sentence.").use { chat ->
                twins.chatSession("Answer in one short sentence.").use { twin ->
                    assertEquals(twin.reply("What is rain?", greedy(12)).ids, chat.reply("What is rain?", greedy(12)).ids)
                    val before = model.memoryInUse()
                    val released = trim(ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN)
                    val after = model.memoryInUse()
                    println("MemoryPressureTest: UI_HIDDEN: memoryInUse $before -> $after bytes; $released")
                    assertEquals(1u, released.chatsOffloaded)
                    assertEquals(before - after, released.bytes.toLong())
                    assertTrue(after < before, "$before -> $after")
                    assertNull(model.unloadedReason)
                    assertEquals(twin.reply("And snow?", greedy(16)).ids, chat.reply("And snow?", greedy(16)).ids)
                    assertEquals(twin.history(), chat.history())
                }
            }
        }
    }

    @Test
    fun `COMPLETE unloads the model, and the next send reloads it and continues as the twin`() = blocking {
        twinModel().use { twins ->
            model.chatSession().use { chat ->
                twins.chatSession().use { twin ->
                    assertEquals(twin.reply("Name a colour.", greedy(8)).ids, chat.reply("Name a colour.", greedy(8)).ids)
                    val before = model.memoryInUse()
                    val released = trim(ComponentCallbacks2.TRIM_MEMORY_COMPLETE)
                    println("MemoryPressureTest: COMPLETE: memoryInUse $before -> ${model.memoryInUse()} bytes; $released")
                    assertEquals(0, model.memoryInUse())
                    assertEquals(before, released.bytes.toLong())
                    assertEquals("onTrimMemory(${ComponentCallbacks2.TRIM_MEMORY_COMPLETE})", model.unloadedReason)
                    val (reply, took) = measureTimedValue { chat.reply("And another?", greedy(16)) }
                    println("MemoryPressureTest: the send after COMPLETE (reload, restore, 16 tokens) took $took")
                    assertNull(model.unloadedReason)
                    assertTrue(model.memoryInUse() > 0)
                    assertEquals(twin.reply("And another?", greedy(16)).ids, reply.ids)
                    assertEquals(twin.history(), chat.history())
                }
            }
        }
    }

    @Test
    fun `a reply running during a release finishes under CACHES and is cancelled under COMPLETE, its session consistent`() = blocking {
        twinModel().use { twins ->
            model.chatSession().use { chat ->
                twins.chatSession().use { twin ->
                    // CACHES never frees what a running reply uses: it goes on to the twin's very tokens.
                    val running = sendUntilFirstEvent(chat, LONG_PROMPT, greedy(200))
                    val released = trim(ComponentCallbacks2.TRIM_MEMORY_BACKGROUND)
                    assertEquals(1u to 0u, released.chatsBusy to released.chatsOffloaded)
                    val finished = checkNotNull(running.await().last().reply)
                    assertEquals(twin.reply(LONG_PROMPT, greedy(200)).ids, finished.ids)

                    // COMPLETE cancels it (within a token): the session keeps the reply so far.
                    val cancelled = sendUntilFirstEvent(chat, "Tell me more.", greedy(2000))
                    trim(ComponentCallbacks2.TRIM_MEMORY_COMPLETE)
                    val last = checkNotNull(cancelled.await().last().reply)
                    assertEquals(FinishReason.CANCELLED, last.finishReason)
                    assertTrue(last.stats.generatedTokens < 2000u, "${last.stats}")
                    assertEquals(listOf("Tell me more.", last.text), chat.history().takeLast(2).map { it.text })
                    assertNotNull(model.unloadedReason)
                    // The next turn reloads the model and goes on from the kept history.
                    assertEquals(FinishReason.LENGTH, chat.reply("Go on.", greedy(4)).finishReason)
                    assertNull(model.unloadedReason)
                    assertEquals(6, chat.history().size)
                }
            }
        }
    }

    @Test
    fun `with no policy nothing is released, and a closed model stops listening`() = blocking {
        GemmaModel.load(context, modelFile, LoadOptions(memoryPolicy = null)).use { quiet ->
            quiet.chatSession().use { it.reply("Hi", greedy(4)) }
            app.onTrimMemory(ComponentCallbacks2.TRIM_MEMORY_COMPLETE)
            assertNull(quiet.lastPressureRelease)
            assertNull(quiet.unloadedReason)
            // The app's own call does what the policy would have.
            val released = quiet.releaseMemory(MemoryRelease.MODEL, "the app's own policy")
            assertEquals("the app's own policy", quiet.unloadedReason)
            assertEquals(0, quiet.memoryInUse())
            assertTrue(released.bytes > 0u)
        }
        // The test's own model (default policy) took that COMPLETE; closed, it takes no more.
        val last = model.lastPressureRelease
        model.close()
        app.onTrimMemory(ComponentCallbacks2.TRIM_MEMORY_COMPLETE)
        assertSame(last, model.lastPressureRelease)
    }

    /** Delivers [level] as Android does, to every registered callback, and waits for the model's release. */
    private suspend fun trim(level: Int): ReleasedMemory {
        app.onTrimMemory(level)
        return checkNotNull(checkNotNull(model.lastPressureRelease) { "no release started" }.await()) { "nothing released" }
    }

    private suspend fun twinModel() = GemmaModel.load(context, modelFile, LoadOptions(memoryPolicy = null))
}
