package dev.gemkit

import android.content.Context
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.withContext

/**
 * A Gemma model loaded from a GGUF file: chats ([chatSession]), raw completions ([complete])
 * and proofreading ([proofreader]).
 *
 * ```
 * val model = GemmaModel.load(context, file)
 * model.chatSession("Answer briefly.").send("Why is the sky blue?").collect { print(it.delta) }
 * ```
 *
 * Threads: every function may be called from the main thread. Blocking work (loading,
 * prefilling prefixes, proofreading, saving and restoring chats) runs on this model's own
 * thread, one call at a time; streamed replies run on the engine's thread, one at a time too.
 *
 * Lifetime: the model holds native memory (its sessions' KV caches, scratch, the tokenizer;
 * the weights are mapped from the file, not copied). [close] frees it at once: it closes every
 * session, prefix and proofreader made from it (cancelling their requests) and ends its
 * thread; using any of them afterwards throws [IllegalStateException]. Close sessions and
 * prefixes you no longer need sooner: each holds a KV cache.
 */
class GemmaModel private constructor(private val engine: Engine, private val thread: ModelThread) : AutoCloseable {
    private val owned = Owned("the model")

    /** What the model is and what it takes in memory, as loaded (context length included). */
    val info: ModelInfo = gemma { engine.info() }

    /** The app's own (anonymous) memory the model and its sessions, prefixes and requests hold now. */
    fun memoryInUse(): Long = gemma { engine.memoryInUse() }.toLong()

    /** A new conversation, opened by [system] instructions if given; its KV cache is reserved now. */
    fun chatSession(system: String? = null): ChatSession {
        owned.checkOpen()
        return adopt(gemma { engine.newChat(ChatOptions(system = system)) })
    }

    /** A new conversation that starts from [prefix] without prefilling it again. */
    fun chatSession(prefix: ChatPrefix): ChatSession {
        owned.checkOpen()
        return adopt(gemma { engine.newChatFrom(prefix.prefix) })
    }

    /** Prefills a chat's opening ([system] instructions) once, for [chatSession] to start from. */
    suspend fun chatPrefix(system: String? = null): ChatPrefix {
        owned.checkOpen()
        return owned.add(ChatPrefix(thread.run { engine.chatPrefix(ChatOptions(system = system)) }, owned))
    }

    /** Continues a conversation that [ChatSession.save] wrote with this model. */
    suspend fun restoreChat(file: File): ChatSession {
        owned.checkOpen()
        return adopt(thread.run { engine.restoreChat(file.path) })
    }

    /**
     * Raw completion of [prompt] (no chat template), after [after] if given, streamed like
     * [ChatSession.send]. Each collection is a new request; cancelling the collector cancels it.
     */
    fun complete(prompt: String, after: TextPrefix? = null, options: GenerationOptions = GenerationOptions()): Flow<ChatEvent> =
        stream(owned) { listener -> engine.complete(after?.prefix, prompt, listener, options) }

    /** Prefills [text] once, for [complete] to continue after it. */
    suspend fun textPrefix(text: String): TextPrefix {
        owned.checkOpen()
        return owned.add(TextPrefix(thread.run { engine.prefix(text) }, owned))
    }

    /** A proofreader for keyboards; its instruction is prefilled once per model, on first use. */
    fun proofreader(): Proofreader = owned.add(Proofreader(engine, thread, owned))

    override fun close() {
        if (owned.closeAll()) {
            engine.close()
            thread.close()
        }
    }

    private fun adopt(chat: Chat): ChatSession = owned.add(ChatSession(chat, thread, owned))

    companion object {
        /**
         * Loads [file] on the model's own thread. First it checks what the model needs with one
         * chat against [LoadOptions.availableMemory] (from the file's header, before mapping
         * anything): if that is more, it throws [GemmaException.NotEnoughMemory], unless
         * [LoadOptions.shrinkContextToFit], which loads the longest context that fits instead.
         */
        suspend fun load(context: Context, file: File, options: LoadOptions = LoadOptions()): GemmaModel {
            val thread = ModelThread()
            try {
                return GemmaModel(thread.run { loadEngine(context, file, options) }, thread)
            } catch (e: Throwable) {
                thread.close()
                throw e
            }
        }

        /** The check [load] makes, without loading: what [file] would need and what the device has. */
        suspend fun checkMemory(context: Context, file: File, options: LoadOptions = LoadOptions()): MemoryCheck =
            withContext(Dispatchers.IO) { memoryCheck(context, file, options) }

        private fun loadEngine(context: Context, file: File, options: LoadOptions): Engine {
            val check = memoryCheck(context, file, options)
            if (check.fits) return Engine.load(file.path, options.engineOptions())
            val available = checkNotNull(check.availableBytes)
            val refused = GemmaException.NotEnoughMemory(check.neededBytes, available)
            if (!options.shrinkContextToFit) throw refused
            val budget = options.engineOptions().copy(memoryBudget = available.toULong(), fitContextToBudget = true)
            return try {
                Engine.load(file.path, budget)
            } catch (_: GemKitException.OutOfMemory) {
                throw refused // even the shortest context does not fit
            }
        }
    }
}

/**
 * A chat's opening (its system instructions) prefilled once by [GemmaModel.chatPrefix]: sessions
 * made from it skip that prefill. It holds a KV cache of [tokenCount] tokens; closing it frees
 * that once the sessions made from it are closed too (they share it).
 */
class ChatPrefix internal constructor(internal val prefix: Prefix, private val owner: Owned) : AutoCloseable {
    val tokenCount: Int get() = prefix.tokenCount().toInt()

    override fun close() {
        owner.remove(this)
        prefix.close()
    }
}

/** Text prefilled once by [GemmaModel.textPrefix] for completions to continue; it holds a KV cache. */
class TextPrefix internal constructor(internal val prefix: Prefix, private val owner: Owned) : AutoCloseable {
    val tokenCount: Int get() = prefix.tokenCount().toInt()

    override fun close() {
        owner.remove(this)
        prefix.close()
    }
}
