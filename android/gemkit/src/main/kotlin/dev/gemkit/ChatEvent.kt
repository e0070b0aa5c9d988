package dev.gemkit

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/** How a reply is generated: token limit, sampling, stop strings, and what to do when the model is busy. */
typealias GenerationOptions = GenerateOptions

/**
 * One step of a streamed reply: the new text ([delta], whole characters), all the text so far
 * ([text]), and on the last event only, with an empty delta, the [reply]: its finish reason,
 * token ids and stats. A reply cancelled by closing its session or model still ends with one
 * (finish reason `CANCELLED`); one whose collector is cancelled just stops.
 */
data class ChatEvent(val delta: String, val text: String, val reply: Reply?)

/**
 * A request started by [start] as a Flow: the engine's listener calls become events, and
 * cancelling the collector cancels the request ([GenerationHandle.cancel]: the engine stops
 * within one decode step, so at most one more token is generated).
 *
 * The buffer is unlimited, and events are sent with `trySend`: the engine's thread never waits
 * for the collector (it serves every request of the model, so a slow UI must not stall them),
 * and no text is dropped. A reply is at most its `maxTokens` events, so the buffer is bounded by
 * the request. (A `buffer(n)` downstream fuses into this one and stays unlimited; a
 * `conflate()` downstream drops intermediate events, which is harmless because each carries
 * the whole text so far.)
 *
 * Each collection starts its own request, owned by [owner] until the listener's last call.
 */
internal fun stream(owner: Owned, start: (TokenListener) -> GenerationHandle): Flow<ChatEvent> = callbackFlow {
    val request = owner.add(Request(owner))
    val listener = object : TokenListener {
        private val soFar = StringBuilder() // only the engine's thread touches it

        override fun onText(text: String) {
            soFar.append(text)
            trySend(ChatEvent(text, soFar.toString(), null))
        }

        override fun onComplete(reply: Reply) {
            request.finished() // first, so that a collector of the last event sees `responding` false
            trySend(ChatEvent("", reply.text, reply))
            close()
        }

        override fun onError(error: GemKitException) {
            request.finished()
            close(error.toGemma())
        }
    }
    try {
        request.started(gemma { start(listener) })
    } catch (e: Throwable) {
        request.finished()
        throw e
    }
    awaitClose { request.close() }
}.buffer(Channel.UNLIMITED)

/**
 * A streamed request in flight: [close] cancels it (its owner closing, or its collector
 * leaving), also when that comes before the engine has answered with its handle; [finished]
 * frees the handle once the listener has had its last call. The lock keeps a cancel from
 * reaching a handle already freed.
 */
private class Request(private val owner: Owned) : AutoCloseable {
    private var handle: GenerationHandle? = null
    private var cancelled = false
    private var done = false

    fun started(handle: GenerationHandle) = synchronized(this) {
        if (done) {
            handle.close()
        } else {
            this.handle = handle
            if (cancelled) handle.cancel()
        }
    }

    override fun close() {
        synchronized(this) {
            cancelled = true
            handle?.cancel()
        }
    }

    fun finished() {
        synchronized(this) {
            done = true
            handle?.close()
            handle = null
        }
        owner.remove(this)
    }
}
