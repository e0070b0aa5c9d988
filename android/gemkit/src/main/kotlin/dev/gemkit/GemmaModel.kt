package dev.gemkit

import android.content.Context
import android.util.Log
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.async
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
 *
 * Memory pressure: while open, the model follows [LoadOptions.memoryPolicy] on the system's
 * memory callbacks (`onTrimMemory`, `onLowMemory`, on the application context): by default it
 * frees idle sessions' KV caches (written to `cacheDir/gemkit`) and prefixes when the app is
 * hidden or memory is low, and unloads the model at `TRIM_MEMORY_COMPLETE`. Nothing needs
 * doing afterwards: the next use loads what it needs again, and each session continues as if
 * nothing had happened. [releaseMemory] does the same on the app's own terms.
 */
class GemmaModel private constructor(
    private val engine: Engine,
    private val thread: ModelThread,
    private val offloadDir: File,
    app: Context,
    private val policy: MemoryPolicy?,
) : AutoCloseable {
    private val owned = Owned("the model")

    // Releases run one at a time, off the main thread where the system's callbacks come, and
    // off the model's thread, so that unloading can cancel a proofread running there.
    private val releaseDispatcher = Dispatchers.IO.limitedParallelism(1)
    private val releases = CoroutineScope(SupervisorJob() + releaseDispatcher)
    private val callbacks = policy?.let { TrimCallbacks(app, ::onMemoryPressure) }

    /** The release the last memory callback started, if any: what it freed, or null (for tests to wait on). */
    @Volatile
    internal var lastPressureRelease: Deferred<ReleasedMemory?>? = null

    /** What the model is and what it takes in memory, as loaded (context length included). */
    val info: ModelInfo = gemma { engine.info() }

    /** The app's own (anonymous) memory the model and its sessions, prefixes and requests hold now; 0 while unloaded. */
    fun memoryInUse(): Long = gemma { engine.memoryInUse() }.toLong()

    /**
     * Why the model is unloaded (the reason [releaseMemory] was given, such as
     * `onTrimMemory(80)`), or null while it is loaded. An unloaded model loads again on next use.
     */
    val unloadedReason: String? get() = gemma { engine.unloadedReason() }

    /**
     * Frees memory now: [MemoryRelease.CACHES] or the whole [MemoryRelease.MODEL], as described
     * at [MemoryPolicy]; [reason] is what [unloadedReason] then reports. Returns what was freed
     * (bytes, sessions offloaded, prefixes freed, sessions left alone because a reply was being
     * generated in them). With `MODEL` it waits for the running request to stop (one token).
     */
    suspend fun releaseMemory(what: MemoryRelease, reason: String = "released by the app"): ReleasedMemory {
        owned.checkOpen()
        return withContext(releaseDispatcher) { gemma { engine.releaseMemory(what, offloadDir.path, reason) } }
    }

    /**
     * What the model does at [pressure] under its [LoadOptions.memoryPolicy]: the release it
     * makes, or null if the policy frees nothing (or there is none). The memory callbacks call it;
     * an app with signals of its own may too.
     */
    suspend fun respondTo(pressure: MemoryPressure, reason: String = "memory pressure: $pressure"): ReleasedMemory? {
        val what = policy?.release(pressure) ?: return null
        return releaseMemory(what, reason)
    }

    private fun onMemoryPressure(pressure: MemoryPressure, reason: String) {
        lastPressureRelease = releases.async {
            try {
                respondTo(pressure, reason)?.also { Log.i(TAG, "$reason: released $it") }
            } catch (e: GemmaException) {
                Log.w(TAG, "$reason: could not release memory", e)
                null
            } catch (_: IllegalStateException) {
                null // closed meanwhile: its memory is freed anyway
            }
        }
    }

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
            callbacks?.close()
            releases.cancel()
            engine.close()
            thread.close()
        }
    }

    private fun adopt(chat: Chat): ChatSession = owned.add(ChatSession(chat, thread, owned))

    companion object {
        private const val TAG = "GemKit"

        /**
         * Loads [file] on the model's own thread. First it checks what the model needs with one
         * chat against [LoadOptions.availableMemory] (from the file's header, before mapping
         * anything): if that is more, it throws [GemmaException.NotEnoughMemory], unless
         * [LoadOptions.shrinkContextToFit], which loads the longest context that fits instead.
         */
        suspend fun load(context: Context, file: File, options: LoadOptions = LoadOptions()): GemmaModel {
            val thread = ModelThread()
            try {
                val engine = thread.run { loadEngine(context, file, options) }
                return GemmaModel(engine, thread, File(context.cacheDir, "gemkit"), context.applicationContext, options.memoryPolicy)
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
