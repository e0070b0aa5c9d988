// Chats: streamed turns, the chat prefix, two conversations on one engine, save and restore,
// and closing a chat while it replies. Replies are greedy, so comparisons are exact.
package dev.gemkit.tests

import dev.gemkit.Chat
import dev.gemkit.ChatOptions
import dev.gemkit.Engine
import dev.gemkit.FinishReason
import dev.gemkit.Message
import dev.gemkit.Reply
import dev.gemkit.Role
import java.util.concurrent.CountDownLatch
import kotlin.test.assertEquals
import org.junit.jupiter.api.Test

/** Sends `message` and waits for the reply, which must equal the streamed text. */
fun send(chat: Chat, message: String, maxTokens: UInt = 24u): Reply {
    val c = Collector()
    val reply = chat.send(message, c, greedy(maxTokens)).use { c.reply() }
    assertEquals(reply.text, c.text)
    return reply
}

class ChatTests {
    private val modelPath = Model.path
    private val engine = Model.engine
    private val brief = ChatOptions(system = "Answer in one short sentence.")

    @Test
    fun `a chat streams its reply, a chat from the chat prefix gives the same`() {
        engine.newChat(brief).use { plain ->
            engine.chatPrefix(brief).use { prefix ->
                engine.newChatFrom(prefix).use { fast ->
                    val a = send(plain, "What is the sun?")
                    val b = send(fast, "What is the sun?")
                    assertEquals(a.ids, b.ids)
                    assertEquals(a.stats.promptTokens - prefix.tokenCount(), b.stats.promptTokens)
                    val history = listOf(Message(Role.USER, "What is the sun?"), Message(Role.MODEL, a.text))
                    assertEquals(history, plain.history())
                    assertEquals(history, fast.history())
                }
            }
        }
    }

    @Test
    fun `two chats keep their own conversations`() {
        engine.newChat().use { a ->
            engine.newChat().use { b ->
                engine.newChat().use { alone ->
                    send(a, "My name is Ada.", 16u)
                    send(b, "What is two plus two?", 16u)
                    val interleaved = send(a, "What is my name?", 16u)
                    send(alone, "My name is Ada.", 16u)
                    assertEquals(send(alone, "What is my name?", 16u).ids, interleaved.ids)
                    assertEquals(listOf(4, 2), listOf(a.history().size, b.history().size))
                }
            }
        }
    }

    @Test
    fun `a saved chat restores and continues identically`() {
        val path = tempFile("saved.chat").path
        engine.newChat(brief).use { chat ->
            send(chat, "What is rain?", 12u)
            chat.save(path)
            Engine.load(modelPath).use { other ->
                other.restoreChat(path).use { restored ->
                    assertEquals(chat.history(), restored.history())
                    val a = send(chat, "And snow?", 16u)
                    val b = send(restored, "And snow?", 16u)
                    assertEquals(a.ids, b.ids)
                    assertEquals(a.stats.promptTokens, b.stats.promptTokens)
                }
            }
        }
    }

    @Test
    fun `closing a chat cancels its running request`() {
        val closed = CountDownLatch(1)
        val c = Collector(onPiece = { i, _ -> if (i == 0) closed.awaitOrFail("the close") })
        val chat = engine.newChat()
        chat.send(LONG_PROMPT, c, greedy(2000u)).use {
            c.firstText.awaitOrFail("the story")
            chat.close()
            closed.countDown()
            assertEquals(FinishReason.CANCELLED, c.reply().finishReason)
        }
    }
}
