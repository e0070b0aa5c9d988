package dev.gemkit

import android.app.ActivityManager
import android.content.Context
import java.io.File

/**
 * How [GemmaModel.load] loads a model.
 *
 * @property contextLength tokens a chat can hold (default: the model's training context, at
 *   most 4096). Each session's KV cache is sized by it.
 * @property threads compute threads (default: the performance cores).
 * @property shrinkContextToFit when the model with one chat at [contextLength] needs more than
 *   the available memory, load it with the longest context that fits instead of failing with
 *   [GemmaException.NotEnoughMemory]. The model then keeps that memory as its budget: another
 *   session that does not fit in it fails with [GemmaException.OutOfMemory].
 * @property availableMemory the bytes this app may take now, or null for "unknown"; loading is
 *   checked against it. [deviceAvailableMemory] by default; null skips the check.
 * @property memoryPolicy what the model frees when the system runs short of memory (see
 *   [MemoryPolicy]); null registers nothing, for apps that call [GemmaModel.releaseMemory]
 *   themselves.
 */
data class LoadOptions(
    val contextLength: Int? = null,
    val threads: Int? = null,
    val shrinkContextToFit: Boolean = false,
    val availableMemory: ((Context) -> Long?)? = ::deviceAvailableMemory,
    val memoryPolicy: MemoryPolicy? = MemoryPolicy.DEFAULT,
) {
    init {
        require(contextLength == null || contextLength > 0) { "contextLength must be positive: $contextLength" }
        require(threads == null || threads > 0) { "threads must be positive: $threads" }
    }

    internal fun engineOptions() = EngineOptions(contextLength = contextLength?.toUInt(), threads = threads?.toUInt())
}

/**
 * The memory this app can take before Android starts killing processes for it, from
 * [ActivityManager.MemoryInfo]: what is available above the low-memory threshold, where the
 * low-memory killer begins. Zero while the system already reports low memory.
 *
 * On a low-RAM device ([ActivityManager.isLowRamDevice]: Android Go, 2 GB or less) only half of
 * that counts. The available figure includes the page cache, which is also where the mapped
 * weights must stay to be read at speed; on such a device there is no slack for both, so half is
 * kept for them and for the rest of the system (a rule of thumb, not a measurement).
 */
fun deviceAvailableMemory(context: Context): Long? {
    val manager = context.getSystemService(ActivityManager::class.java) ?: return null
    val info = ActivityManager.MemoryInfo().also(manager::getMemoryInfo)
    if (info.lowMemory) return 0
    val spare = (info.availMem - info.threshold).coerceAtLeast(0)
    return if (manager.isLowRamDevice) spare / 2 else spare
}

/**
 * What a model would need in memory, beside what the device has to spare: the check
 * [GemmaModel.load] makes before mapping the file.
 *
 * @property estimate the engine's estimate from the file's header, at the context asked for.
 * @property availableBytes [LoadOptions.availableMemory]'s answer, or null when not checked.
 */
data class MemoryCheck(val estimate: MemoryEstimate, val availableBytes: Long?) {
    /** The app's own memory for the model and one chat (KV cache, scratch, tokenizer). */
    val neededBytes: Long get() = estimate.anonymousBytes.toLong()

    val fits: Boolean get() = availableBytes == null || neededBytes <= availableBytes
}

/** Blocking: reads the file's header and asks the system. */
internal fun memoryCheck(context: Context, file: File, options: LoadOptions): MemoryCheck {
    val estimate = gemma { estimateMemory(file.path, options.engineOptions()) }
    return MemoryCheck(estimate, options.availableMemory?.invoke(context))
}
