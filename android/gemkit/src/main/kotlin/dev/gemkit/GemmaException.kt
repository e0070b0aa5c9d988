package dev.gemkit

/**
 * The one error the Kotlin API ([GemmaModel], [ChatSession], [Proofreader]) throws: the
 * engine's cases, each with the core's one-line message (the generated [GemKitException] is
 * the cause), and the wrapper's own. Cancellation is never one of them: a cancelled coroutine
 * ends with [kotlinx.coroutines.CancellationException], as coroutines do.
 *
 * Using an object after closing it is a bug in the caller, not a condition to handle: that is
 * an [IllegalStateException], as with any closed Kotlin resource.
 */
sealed class GemmaException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /** The file cannot be read: missing, no permission, an I/O failure. */
    class Io(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** The file is not a valid GGUF model (corrupt, truncated, inconsistent). */
    class InvalidModel(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** A valid file that this version cannot run (architecture, tensor type). */
    class UnsupportedModel(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** An option or input out of range: thread count, context length, text size. */
    class InvalidArgument(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /**
     * The message needs [tokens] tokens and the context holds [contextSize] (the engine's
     * numbers, not parsed from its message): start a new session, or load with a longer context.
     */
    class ContextFull(val tokens: Int, val contextSize: Int, message: String, cause: Throwable? = null) :
        GemmaException(message, cause)

    /** The memory budget the model was loaded with has no room for another chat or prefix. */
    class OutOfMemory(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** The model was busy and the request asked not to wait (`whenBusy = WhenBusy.FAIL`). */
    class Busy(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** A saved chat that cannot be restored: damaged, or saved with another model. */
    class InvalidChatFile(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /** A bug in GemKit; the message says where. */
    class Internal(message: String, cause: Throwable? = null) : GemmaException(message, cause)

    /**
     * The device has [availableBytes] of memory to spare and the model with one chat needs
     * [neededBytes] (its KV cache, scratch and tokenizer; the mapped weights are not counted).
     * Load with a shorter context, or with `shrinkContextToFit`.
     */
    class NotEnoughMemory(val neededBytes: Long, val availableBytes: Long) : GemmaException(
        "not enough memory to load the model: it needs ${mb(neededBytes)} and the device has ${mb(availableBytes)} to spare",
    )

    /** A model download failed; [error] says how. */
    class Download(val error: DownloadException) : GemmaException(error.message ?: error.toString(), error)
}

private fun mb(bytes: Long) = "%.1f MB".format(bytes / 1e6)

/** The wrapper's error for the engine's: the one place the generated exceptions are mapped. */
internal fun GemKitException.toGemma(): GemmaException = when (this) {
    is GemKitException.Io -> GemmaException.Io(reason, this)
    is GemKitException.InvalidModel -> GemmaException.InvalidModel(reason, this)
    is GemKitException.UnsupportedModel -> GemmaException.UnsupportedModel(reason, this)
    is GemKitException.InvalidArgument -> GemmaException.InvalidArgument(reason, this)
    is GemKitException.ContextFull -> GemmaException.ContextFull(needed.toIntSaturated(), limit.toIntSaturated(), reason, this)
    is GemKitException.OutOfMemory -> GemmaException.OutOfMemory(reason, this)
    is GemKitException.Busy -> GemmaException.Busy(reason, this)
    is GemKitException.InvalidChatFile -> GemmaException.InvalidChatFile(reason, this)
    is GemKitException.Internal -> GemmaException.Internal(reason, this)
}

// The engine's counts are u32; past Int.MAX_VALUE they saturate rather than turn negative.
private fun UInt.toIntSaturated(): Int = coerceAtMost(Int.MAX_VALUE.toUInt()).toInt()

/** Runs a call into the bindings, turning their exceptions into [GemmaException]. */
internal inline fun <T> gemma(call: () -> T): T = try {
    call()
} catch (e: GemKitException) {
    throw e.toGemma()
} catch (e: InternalException) {
    // UniFFI's own: a panic that escaped the bindings' guard, or a broken FFI contract.
    throw GemmaException.Internal(e.message ?: e.toString(), e)
}
