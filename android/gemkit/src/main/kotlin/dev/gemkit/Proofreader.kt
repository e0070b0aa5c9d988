package dev.gemkit

/**
 * A corrected text and what changed, word by word, ready to underline: unchanged and deleted
 * segments spell the original, unchanged and inserted ones the correction. When the model did
 * not finish its correction (cancelled, cut off), [ProofreadResult.corrected] is the original.
 */
typealias Correction = ProofreadResult

/**
 * Spelling, grammar and punctuation corrections for a keyboard, in the spirit of ML Kit GenAI's
 * Proofreading client: made by [GemmaModel.proofreader], closed when done. It holds no memory
 * of its own (the instruction's prefix is the model's, prefilled once); [close] cancels the
 * corrections under way, which then return the text unchanged.
 */
class Proofreader internal constructor(
    private val engine: Engine,
    private val thread: ModelThread,
    private val owner: Owned,
) : AutoCloseable {
    private val running = Owned("the proofreader")

    /**
     * Corrects [text] on the model's thread (after the model's other blocking calls, and while
     * no reply is being generated). Cancelling the caller stops the engine within a decode
     * step and throws [kotlinx.coroutines.CancellationException].
     */
    suspend fun proofread(text: String): Correction {
        running.checkOpen()
        return thread.run(cancelledBy = running) { token -> engine.proofread(text, token) }
    }

    override fun close() {
        if (running.closeAll()) owner.remove(this)
    }
}
