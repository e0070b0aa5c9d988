// A TokenListener for tests: keeps every piece of text, then waits for the one last call.
package dev.gemkit.tests

import dev.gemkit.GemKitException
import dev.gemkit.GenerateOptions
import dev.gemkit.Reply
import dev.gemkit.Sampling
import dev.gemkit.TokenListener
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/** Greedy decoding, so that every reply is reproducible. */
fun greedy(maxTokens: UInt) = GenerateOptions(maxTokens = maxTokens, sampling = Sampling(temperature = 0f))

/** Waits as long as a slow CI machine could need; reaching it is a failure, not a measurement. */
fun CountDownLatch.awaitOrFail(what: String) {
    if (!await(120, TimeUnit.SECONDS)) throw AssertionError("timed out waiting for $what")
}

/**
 * Keeps the streamed text; `onPiece(index, text)` runs after each piece is kept and may block
 * or throw (a throw is the listener throwing). `onLast` runs in the last call and may throw.
 */
class Collector(
    private val onPiece: (Int, String) -> Unit = { _, _ -> },
    private val onLast: () -> Unit = {},
) : TokenListener {
    private val pieces = Collections.synchronizedList(mutableListOf<String>())
    private val last = LinkedBlockingQueue<Any>()
    val firstText = CountDownLatch(1)
    @Volatile var thread: Thread? = null

    val text: String get() = synchronized(pieces) { pieces.joinToString("") }

    override fun onText(text: String) {
        thread = Thread.currentThread()
        pieces += text
        firstText.countDown()
        onPiece(pieces.size - 1, text)
    }

    override fun onComplete(reply: Reply) {
        last.put(reply)
        onLast()
    }

    override fun onError(error: GemKitException) {
        last.put(error)
        onLast()
    }

    /** The reply; fails if the request failed instead. */
    fun reply(): Reply = when (val r = awaitLast()) {
        is Reply -> r
        else -> throw AssertionError("expected a reply, got $r")
    }

    /** The error; fails if a reply came instead. */
    fun error(): GemKitException = when (val r = awaitLast()) {
        is GemKitException -> r
        else -> throw AssertionError("expected an error, got $r")
    }

    private fun awaitLast(): Any {
        val r = last.poll(120, TimeUnit.SECONDS) ?: throw AssertionError("no last call")
        if (last.poll(100, TimeUnit.MILLISECONDS) != null) throw AssertionError("a second last call")
        return r
    }
}
