package dev.gemkit

import android.content.ComponentCallbacks2
import android.content.Context
import android.content.res.Configuration

/**
 * How hard the system presses on memory, from either platform's signals (the Swift wrapper has
 * the same three). [MemoryPolicy] says what a [GemmaModel] frees at each.
 */
enum class MemoryPressure {
    /** The app's UI is out of sight: Android's `TRIM_MEMORY_UI_HIDDEN`, iOS entering the background. */
    HIDDEN,

    /**
     * The system is short of memory: Android's `TRIM_MEMORY_BACKGROUND` and `MODERATE`, and the
     * `RUNNING_*` levels (the app is in use, so never more than this); an iOS memory warning.
     */
    LOW,

    /** This process is next to be killed: Android's `TRIM_MEMORY_COMPLETE` and `onLowMemory`; iOS's critical pressure. */
    CRITICAL,
    ;

    companion object {
        /**
         * What an `onTrimMemory` level means, matched level by level, never with `>=` (a level
         * between two known ones, added by a later Android, means nothing here): null for a
         * level this version does not know. Android 14 and later deliver only `UI_HIDDEN`,
         * `BACKGROUND` and `COMPLETE`.
         */
        @Suppress("DEPRECATION") // the RUNNING_*, MODERATE and COMPLETE constants, still delivered before API 34
        fun ofTrimLevel(level: Int): MemoryPressure? = when (level) {
            ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN -> HIDDEN
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_MODERATE,
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_LOW,
            ComponentCallbacks2.TRIM_MEMORY_RUNNING_CRITICAL,
            ComponentCallbacks2.TRIM_MEMORY_BACKGROUND,
            ComponentCallbacks2.TRIM_MEMORY_MODERATE,
            -> LOW
            ComponentCallbacks2.TRIM_MEMORY_COMPLETE -> CRITICAL
            else -> null
        }
    }
}

/**
 * What a [GemmaModel] frees under each [MemoryPressure] ([LoadOptions.memoryPolicy]); null frees
 * nothing. [MemoryRelease.CACHES] writes idle sessions' KV caches to the app's cache directory
 * and frees them and the prefixes' caches; a reply being generated goes on, and its session
 * keeps its cache. [MemoryRelease.MODEL] also cancels every request (each stops within one token,
 * its session keeping the reply so far) and unloads the model. Either way, the next use reloads
 * what it needs and every session continues exactly where it was.
 */
fun interface MemoryPolicy {
    fun release(pressure: MemoryPressure): MemoryRelease?

    companion object {
        /** Caches when hidden or short of memory; the whole model when the process is about to be killed. */
        val DEFAULT = MemoryPolicy { pressure ->
            when (pressure) {
                MemoryPressure.HIDDEN, MemoryPressure.LOW -> MemoryRelease.CACHES
                MemoryPressure.CRITICAL -> MemoryRelease.MODEL
            }
        }
    }
}

/**
 * The Android glue of a model's [MemoryPolicy]: registered on the application context while the
 * model is open, it turns the system's memory callbacks into [MemoryPressure] for [respond]
 * (which must not block: the callbacks come on the main thread).
 */
internal class TrimCallbacks(
    private val app: Context,
    private val respond: (MemoryPressure, reason: String) -> Unit,
) : ComponentCallbacks2, AutoCloseable {
    init {
        app.registerComponentCallbacks(this)
    }

    override fun onTrimMemory(level: Int) {
        MemoryPressure.ofTrimLevel(level)?.let { respond(it, "onTrimMemory($level)") }
    }

    @Deprecated("Deprecated in Android; still delivered on older versions")
    override fun onLowMemory() = respond(MemoryPressure.CRITICAL, "onLowMemory")

    override fun onConfigurationChanged(newConfig: Configuration) {}

    override fun close() = app.unregisterComponentCallbacks(this)
}
