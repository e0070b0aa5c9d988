package dev.gemkit.demo

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.Test
import org.robolectric.Robolectric

/** The chat screen on the real model: type, send, watch the reply stream in, stop it, see the speed. */
class ChatScreenTest : DemoTestBase() {
    @Test
    fun `the reply streams in, and Stop stops it with the text shown so far kept`() {
        loadSharedModel()
        val screen = Robolectric.buildActivity(ChatActivity::class.java, ChatActivity.intent(context, maxTokens = 400)).setup().get().root()
        until("the model") { screen.label("Ready") != null }

        screen.input().setText("Tell me a long story about a lighthouse keeper.")
        screen.button("Send").performClick()
        assertEquals("", screen.input().text.toString())
        val transcript = screen.labelView("You: ")
        val replies = mutableListOf<String>()
        until("a few words of the reply") {
            val reply = transcript.text.toString().substringAfter("\nGemma: ")
            if (replies.lastOrNull() != reply) replies += reply
            reply.length > 20
        }
        assertTrue(replies.size >= 2, "the reply came in pieces: $replies")
        assertFalse(screen.button("Send").isEnabled)
        screen.button("Stop").performClick()
        until("the stop") { screen.label("Stopped") != null }
        assertTrue(screen.label("Stopped")!!.matches(Regex("Stopped · TTFT \\d+ ms")), screen.label("Stopped"))
        assertTrue(screen.button("Send").isEnabled && !screen.button("Stop").isEnabled)
        val stoppedAt = transcript.text.toString()
        assertTrue(stoppedAt.startsWith("You: Tell me a long story about a lighthouse keeper.\nGemma: ${replies.last()}"), stoppedAt)
    }

    @Test
    fun `a finished reply shows the time to the first token and the decode speed`() {
        loadSharedModel()
        val screen = Robolectric.buildActivity(ChatActivity::class.java, ChatActivity.intent(context, maxTokens = 8)).setup().get().root()
        until("the model") { screen.label("Ready") != null }
        screen.input().setText("Hello")
        screen.button("Send").performClick()
        until("the reply") { screen.label("TTFT") != null }
        val stats = screen.label("TTFT")!!
        assertTrue(stats.matches(Regex("TTFT \\d+ ms · \\d+\\.\\d tok/s · (LENGTH|STOP_TOKEN)")), stats)
        assertTrue(screen.labelView("You: ").text.startsWith("You: Hello\nGemma: "))
    }
}
