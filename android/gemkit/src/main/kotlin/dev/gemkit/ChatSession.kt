package dev.gemkit

import java.io.File
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.last

/**
 * A conversation with a [GemmaModel], made by [GemmaModel.chatSession] or
 * [GemmaModel.restoreChat]. Each turn prefills only its own message; the history and the KV
 * cache stay in agreement when a turn is cancelled: a reply cancelled once it has begun keeps
 * the text generated so far, and one cancelled during the prefill undoes the whole turn.
 *
 * Lifetime: the session holds a KV cache of the model's context length. [close] cancels its
 * requests and frees it (closing the model does both too).
 */
class ChatSession internal constructor(
    private val chat: Chat,
    private val thread: ModelThread,
    private val owner: Owned,
) : AutoCloseable {
    private val requests = Owned("the chat session")

    /** Whether a reply of this session is being generated or waits for the model. */
    val responding: StateFlow<Boolean> = requests.any

    /**
     * Sends [text] and streams the reply (see [ChatEvent]). Collecting starts the request;
     * cancelling the collector cancels it. While the model is busy with another request, the
     * turn waits for it, or fails with [GemmaException.Busy] if [GenerationOptions.whenBusy]
     * is `WhenBusy.FAIL`. A message that does not fit in the context even with the older turns
     * dropped fails with [GemmaException.ContextFull].
     */
    fun send(text: String, options: GenerationOptions = GenerationOptions()): Flow<ChatEvent> =
        stream(requests) { listener -> chat.send(text, listener, options) }

    /** [send], waiting for the whole reply. Cancelling the caller cancels the request. */
    suspend fun reply(text: String, options: GenerationOptions = GenerationOptions()): Reply =
        checkNotNull(send(text, options).last().reply) { "a reply's last event carries the reply" }

    /** The messages so far, oldest first (after the running turn, if one is). */
    suspend fun history(): List<Message> {
        requests.checkOpen()
        return thread.run { chat.history() }
    }

    /** Writes the conversation, KV cache included, for [GemmaModel.restoreChat] to continue. */
    suspend fun save(file: File) {
        requests.checkOpen()
        thread.run { chat.save(file.path) }
    }

    override fun close() {
        if (requests.closeAll()) {
            owner.remove(this)
            chat.close()
        }
    }
}
