package dev.gemkit.demo

import android.content.Context
import dev.gemkit.GemmaModel
import dev.gemkit.LoadOptions
import dev.gemkit.ModelDownloader
import dev.gemkit.ModelSpec
import java.io.File
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/**
 * The demo's model: the file it downloads by default, and the one model loaded in the process,
 * which the screens and the keyboard share. A process-wide holder on purpose: the keyboard runs
 * in the app's process beside the screens, and a second copy would double the app's largest
 * memory cost (loading it also takes a moment each time).
 */
object SharedModel {
    /**
     * Gemma 3 270M, instruction-tuned, Q4_K_M: bartowski's public GGUF on Hugging Face (no
     * token needed), pinned to the revision whose file has this size and SHA-256, so that the
     * bytes behind the URL cannot change under the hash.
     */
    val DEFAULT_SPEC = ModelSpec(
        url = "https://huggingface.co/bartowski/google_gemma-3-270m-it-GGUF/resolve/" +
            "d127a4e2c6ed47fdf409a956867b604c040432f9/google_gemma-3-270m-it-Q4_K_M.gguf",
        sha256 = "c866c9f113f2e9aa2225c5997ede437392b8fa844ba5db9e4c77e315ffe20800",
        sizeBytes = 253_115_168,
        fileName = "gemma-3-270m-it-q4_k_m.gguf",
    )

    /** A device with less to spare gets a shorter context rather than no model. */
    val LOAD_OPTIONS = LoadOptions(shrinkContextToFit = true)

    private val lock = Mutex()

    @Volatile
    private var model: GemmaModel? = null

    fun downloader(context: Context) = ModelDownloader(File(context.filesDir, "models"))

    /** The loaded model, if one is. */
    val current: GemmaModel? get() = model

    /** The loaded model; if none is, loads [file] (the default model's download) first. */
    suspend fun get(context: Context, file: File = downloader(context).file(DEFAULT_SPEC)): GemmaModel = lock.withLock {
        model ?: GemmaModel.load(context.applicationContext, file, LOAD_OPTIONS).also { model = it }
    }

    /** Closes the loaded model (and every session and proofreader made from it). */
    suspend fun unload() = lock.withLock {
        model?.close()
        model = null
    }
}
