package dev.gemkit

import java.util.concurrent.Executors
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * A model's own thread for the engine's blocking calls (loading, prefilling a prefix,
 * proofreading, saving and restoring chats): one call at a time, in the order they come, never
 * on the caller's thread. Streamed replies do not use it; they run on the engine's thread.
 */
internal class ModelThread : AutoCloseable {
    private val executor = Executors.newSingleThreadExecutor { Thread(it, "gemkit-model").apply { isDaemon = true } }
    private val dispatcher = executor.asCoroutineDispatcher()

    /**
     * Runs [call] here and returns its result. A caller cancelled while the call waits for the
     * thread never runs it; one cancelled while it runs cancels its token (the engine stops
     * within a decode step), waits for it to return, closes its result if that owns native
     * memory, and throws [CancellationException]. While it runs, closing [cancelledBy] (a
     * proofreader, say) cancels the token too, and the call returns what it made of the cancel.
     */
    suspend fun <T> run(cancelledBy: Owned? = null, call: (CancelToken) -> T): T = CancelToken().use { token ->
        val cancel = AutoCloseable { token.cancel() }
        cancelledBy?.add(cancel)
        var made: T? = null
        try {
            coroutineScope {
                val canceller = launch {
                    try {
                        awaitCancellation()
                    } finally {
                        token.cancel()
                    }
                }
                try {
                    // The blocking call cannot be abandoned, so withContext returns only once it
                    // has: the token is not in use when `use` closes it.
                    withContext(dispatcher) { gemma { call(token) }.also { made = it } }
                } finally {
                    canceller.cancel()
                }
            }
        } catch (e: CancellationException) {
            (made as? AutoCloseable)?.close()
            throw e
        } finally {
            cancelledBy?.remove(cancel)
        }
    }

    /** Ends the thread once the call running on it (if any) returns. */
    override fun close() = executor.shutdown()
}
