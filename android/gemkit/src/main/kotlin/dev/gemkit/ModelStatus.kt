package dev.gemkit

import java.io.File
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/**
 * Whether a model is there to load: ML Kit GenAI's feature status (DOWNLOADABLE, DOWNLOADING,
 * AVAILABLE), typed, with the verification and the failure told apart. From
 * [ModelDownloader.status]; a download started by [ModelDownloader.download] moves it along.
 */
sealed interface ModelStatus {
    /** Not in place (a part may be on disk, for the next download to resume). */
    data object NotDownloaded : ModelStatus

    /** Bytes are arriving: [bytes] on disk of [totalBytes] (null until the server says). */
    data class Downloading(val bytes: Long, val totalBytes: Long?) : ModelStatus {
        /** From 0 to 1, when the size is known. */
        val progress: Float? get() = totalBytes?.takeIf { it > 0 }?.let { bytes.toFloat() / it }
    }

    /** Every byte is there; its SHA-256 is being checked. */
    data object Verifying : ModelStatus

    /** [file] is in place and verified: ready for [GemmaModel.load]. */
    data class Ready(val file: File) : ModelStatus

    /** The last download failed ([GemmaException.Download] says how); downloading again resumes or restarts. */
    data class Failed(val reason: GemmaException) : ModelStatus
}

/**
 * The status of every spec's file, shared by all downloaders of the process (as their
 * transfers are): a spec's transfer publishes into it, a delete resets it.
 */
internal object ModelStatuses {
    private val states = HashMap<Pair<String, ModelSpec>, MutableStateFlow<ModelStatus>>()

    /** [spec]'s status, refreshed from the disk unless a download of it is under way. */
    fun of(downloader: ModelDownloader, spec: ModelSpec): StateFlow<ModelStatus> {
        val file = downloader.file(spec)
        val ready = downloader.isDownloaded(spec)
        val state = stateOf(file, spec)
        state.update { current ->
            // A file deleted or put in place by other means since; a failure stays until a
            // download or the file replaces it.
            val settled = current !is ModelStatus.Downloading && current !is ModelStatus.Verifying
            if (settled && (current !is ModelStatus.Failed || ready)) {
                if (ready) ModelStatus.Ready(file) else ModelStatus.NotDownloaded
            } else {
                current
            }
        }
        return state.asStateFlow()
    }

    fun publish(file: File, spec: ModelSpec, status: DownloadStatus) {
        stateOf(file, spec).value = when (status) {
            is DownloadStatus.Started -> ModelStatus.Downloading(status.resumedFromBytes, status.totalBytes)
            is DownloadStatus.Progress -> ModelStatus.Downloading(status.bytes, status.totalBytes)
            DownloadStatus.Verifying -> ModelStatus.Verifying
            is DownloadStatus.Done -> ModelStatus.Ready(status.file)
            is DownloadStatus.Failed -> ModelStatus.Failed(GemmaException.Download(status.error))
        }
    }

    /** A transfer that stopped without a last status (its collectors left) leaves a part for later. */
    fun stopped(file: File, spec: ModelSpec) = stateOf(file, spec).update {
        if (it is ModelStatus.Downloading || it is ModelStatus.Verifying) ModelStatus.NotDownloaded else it
    }

    /** No spec of [file] is downloaded any more. */
    fun deleted(file: File) = synchronized(states) {
        states.filterKeys { it.first == file.absolutePath }.values.forEach { it.value = ModelStatus.NotDownloaded }
    }

    private fun stateOf(file: File, spec: ModelSpec) =
        synchronized(states) { states.getOrPut(file.absolutePath to spec) { MutableStateFlow(ModelStatus.NotDownloaded) } }
}
