// Every GemKitException variant an app can meet, each with the core's one-line message (`reason`;
// `message` is UniFFI's rendering of the fields) and ContextFull with its numbers, thrown
// by the call or handed to the listener's onError. (Internal is a caught panic: a bug, which no
// input reaches; the Rust tests of gemkit-ffi cover it.)
package dev.gemkit.tests

import dev.gemkit.ChatOptions
import dev.gemkit.ContextFullPolicy
import dev.gemkit.Engine
import dev.gemkit.EngineOptions
import dev.gemkit.GemKitException
import dev.gemkit.GenerateOptions
import dev.gemkit.WhenBusy
import dev.gemkit.estimateMemory
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.CountDownLatch
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** A valid GGUF header naming an architecture GemKit does not run. */
fun llamaHeader(): ByteArray {
    val key = "general.architecture".toByteArray()
    val value = "llama".toByteArray()
    return ByteBuffer.allocate(4 + 4 + 8 + 8 + 8 + key.size + 4 + 8 + value.size).order(ByteOrder.LITTLE_ENDIAN)
        .put("GGUF".toByteArray()).putInt(3).putLong(0).putLong(1)
        .putLong(key.size.toLong()).put(key).putInt(8).putLong(value.size.toLong()).put(value)
        .array()
}

class ErrorTests {
    private val modelPath = Model.path
    private val engine = Model.engine

    @Test
    fun `Io - a missing file, an unwritable path`() {
        val e = assertFailsWith<GemKitException.Io> { Engine.load("/nonexistent/model.gguf") }
        assertEquals("cannot open /nonexistent/model.gguf: No such file or directory (os error 2)", e.reason)
        engine.newChat().use { chat ->
            val save = assertFailsWith<GemKitException.Io> { chat.save("/nonexistent/dir/saved.chat") }
            assertEquals("/nonexistent/dir/saved.chat: No such file or directory (os error 2)", save.reason)
        }
    }

    @Test
    fun `InvalidModel - a corrupt file`() {
        val bad = tempFile("corrupt.gguf").apply { writeText("not a model") }
        val e = assertFailsWith<GemKitException.InvalidModel> { Engine.load(bad.path) }
        assertTrue(e.reason.startsWith("invalid GGUF file: "), e.reason)
    }

    @Test
    fun `UnsupportedModel - another architecture`() {
        val llama = tempFile("llama.gguf").apply { writeBytes(llamaHeader()) }
        val e = assertFailsWith<GemKitException.UnsupportedModel> { Engine.load(llama.path) }
        assertEquals("unsupported architecture \"llama\" (supported: gemma, gemma2, gemma3)", e.reason)
    }

    @Test
    fun `InvalidArgument - options, token ids, prefixes`() {
        val threads = assertFailsWith<GemKitException.InvalidArgument> {
            Engine.load(modelPath, EngineOptions(threads = 100000u))
        }
        assertEquals("invalid argument: threads must be 1 to 256, not 100000", threads.reason)
        val context = assertFailsWith<GemKitException.InvalidArgument> {
            estimateMemory(modelPath, EngineOptions(contextLength = 1000000u))
        }
        assertEquals(
            "invalid argument: context length 1000000 exceeds the 32768 tokens the model was trained with",
            context.reason,
        )
        val id = assertFailsWith<GemKitException.InvalidArgument> { engine.detokenize(listOf(2u, 999999u)) }
        assertEquals("token id 999999 is outside the vocabulary of 262144 tokens", id.reason)
        engine.prefix("Once upon a time").use { prefix ->
            val chat = assertFailsWith<GemKitException.InvalidArgument> { engine.newChatFrom(prefix) }
            assertEquals("invalid argument: this prefix is for completions; make one with chat_prefix", chat.reason)
            Engine.load(modelPath, EngineOptions(contextLength = 64u)).use { other ->
                val c = Collector()
                other.complete(prefix, " there", c, greedy(4u)).use {
                    val e = assertIs<GemKitException.InvalidArgument>(c.error())
                    assertEquals("invalid argument: the prefix belongs to another engine", e.reason)
                }
            }
        }
    }

    @Test
    fun `ContextFull - a prompt longer than the context, to onError`() {
        Engine.load(modelPath, EngineOptions(contextLength = 16u)).use { small ->
            val prompt = (1..20).joinToString(" ") { "word$it" }
            val needed = small.tokenize(prompt, addSpecial = true).size
            val c = Collector()
            small.complete(null, prompt, c, greedy(4u)).use {
                val e = assertIs<GemKitException.ContextFull>(c.error())
                assertEquals("context full: needs $needed tokens, limit 16", e.reason)
                assertEquals(needed.toUInt() to 16u, e.needed to e.limit) // fields, not parsed from the text
            }
            small.newChat(ChatOptions(contextFull = ContextFullPolicy.FAIL)).use { chat ->
                val turn = Collector()
                chat.send(prompt, turn).use {
                    val e = assertIs<GemKitException.ContextFull>(turn.error())
                    assertEquals("context full: needs ${e.needed} tokens, limit 16", e.reason)
                    assertEquals(16u, e.limit)
                    assertTrue(e.needed > 16u, "$e")
                }
            }
        }
    }

    @Test
    fun `OutOfMemory - a budget smaller than the model`() {
        val e = assertFailsWith<GemKitException.OutOfMemory> {
            Engine.load(modelPath, EngineOptions(memoryBudget = 1000u))
        }
        val needed = estimateMemory(modelPath).anonymousBytes
        assertEquals("memory budget exceeded: needs $needed bytes, 1000 available", e.reason)
    }

    @Test
    fun `Busy - failing fast while the model works, and calling back into a chat from its listener`() {
        engine.newChat().use { a ->
            engine.newChat().use { b ->
                val release = CountDownLatch(1)
                val inside = mutableListOf<GemKitException.Busy>()
                val long = Collector(onPiece = { i, _ ->
                    if (i == 0) {
                        inside += assertFailsWith<GemKitException.Busy> { a.history() }
                        inside += assertFailsWith<GemKitException.Busy> { engine.prefix("Hello") }
                        release.awaitOrFail("the other calls")
                    }
                })
                a.send("Write a long poem about the sea.", long, greedy(300u)).use { handle ->
                    long.firstText.awaitOrFail("the poem")
                    val failFast = GenerateOptions(maxTokens = 4u, whenBusy = WhenBusy.FAIL)
                    val e = assertFailsWith<GemKitException.Busy> { b.send("Hi", Collector(), failFast) }
                    assertEquals("busy: the model is running another request", e.reason)
                    handle.cancel()
                    release.countDown()
                    long.reply()
                }
                assertEquals(
                    listOf(
                        "busy: the chat is in use by this thread (a callback called back into it)",
                        "busy: the model is in use by this thread (a callback called back into it)",
                    ),
                    inside.map { it.reason },
                )
            }
        }
    }

    @Test
    fun `InvalidChatFile - a file that is not a saved chat`() {
        val bad = tempFile("bad.chat").apply { writeText("not a chat") }
        val e = assertFailsWith<GemKitException.InvalidChatFile> { engine.restoreChat(bad.path) }
        assertEquals("invalid chat file ${bad.path}: not a GemKit chat file", e.reason)
    }
}
