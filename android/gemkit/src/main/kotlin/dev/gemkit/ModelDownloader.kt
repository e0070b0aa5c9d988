package dev.gemkit

import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.catch
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.onCompletion
import kotlinx.coroutines.flow.shareIn
import kotlinx.coroutines.flow.transformWhile
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext

/**
 * Downloads models into [directory] over the platform's HttpURLConnection, resuming, verifying
 * and moving each into place only once its SHA-256 matches (see [ModelSpec], [DownloadStatus]).
 *
 * ```
 * ModelDownloader(File(context.filesDir, "models")).download(spec).collect { status -> … }
 * ```
 *
 * Collecting [download] runs the download; cancelling the collector stops it, closes the
 * connection and keeps the `.part` for the next [download] to resume. Collectors of the same
 * spec share one transfer, in this downloader and any other in the process: each sees the
 * statuses from when it joined (the latest one first), and the transfer stops when the last
 * collector leaves. A download of the same file from another spec waits for that one to end.
 * The work runs on [Dispatchers.IO]; collect from anywhere.
 */
class ModelDownloader(
    private val directory: File,
    private val retry: RetryPolicy = RetryPolicy(),
) {
    fun file(spec: ModelSpec): File = File(directory, spec.fileName)

    /**
     * Whether [spec]'s file is in place as this downloader verified it: its record is read and
     * the file's size and time compared, without hashing. False for a file put there by other
     * means until a [download] has hashed it.
     */
    fun isDownloaded(spec: ModelSpec): Boolean = DownloadRecords(directory, spec.fileName).verifiedSha256(spec) != null

    /**
     * The download's statuses, ending with [DownloadStatus.Done] or [DownloadStatus.Failed]
     * (the flow does not throw for a failed download). A file already in place and verified is
     * [DownloadStatus.Done] at once.
     */
    fun download(spec: ModelSpec): Flow<DownloadStatus> = flow {
        val statuses = join(spec)
        emitAll(
            statuses.transformWhile {
                val status = it.getOrThrow()
                emit(status)
                status !is DownloadStatus.Done && status !is DownloadStatus.Failed
            },
        )
    }

    /**
     * Whether [spec]'s file is there to load, downloading, or failed, as a state that every
     * [download] of it (in any downloader of the process) moves along. Each call looks at the
     * disk again (a `stat`, as [isDownloaded]), unless a download is under way.
     */
    fun status(spec: ModelSpec): StateFlow<ModelStatus> = ModelStatuses.of(this, spec)

    /** Deletes the file, its part and records; waits for a transfer of it to end first. */
    suspend fun delete(spec: ModelSpec) {
        val records = DownloadRecords(directory, spec.fileName)
        lockOf(records.target).withLock { withContext(Dispatchers.IO) { records.deleteAll() } }
        ModelStatuses.deleted(records.target)
    }

    /**
     * The running transfer of [spec]'s file if it is of the same spec, else a new one: shared
     * when none runs, and waiting for the other to end when one of another spec does.
     */
    private fun join(spec: ModelSpec): SharedFlow<Result<DownloadStatus>> {
        val target = file(spec)
        val key = target.absolutePath
        synchronized(running) {
            val other = running[key]
            if (other != null && other.first == spec) return other.second
            lateinit var shared: SharedFlow<Result<DownloadStatus>>
            // Failures of the download are statuses; anything else thrown is a bug, rethrown in
            // each collector (getOrThrow above) rather than in the sharing coroutine.
            shared = channelFlow {
                val publish: suspend (DownloadStatus) -> Unit = { ModelStatuses.publish(target, spec, it); send(it) }
                val last = lockOf(target).withLock { Transfer(spec, directory, retry, publish).run() }
                forget(key, shared) // before the last status, so that its collectors may start another
                publish(last)
            }.flowOn(Dispatchers.IO)
                .map { Result.success(it) }
                .catch { emit(Result.failure(it)) }
                .onCompletion {
                    forget(key, shared)
                    ModelStatuses.stopped(target, spec)
                }
                .shareIn(sharing, SharingStarted.WhileSubscribed(replayExpirationMillis = 0), replay = 1)
            if (other == null) running[key] = spec to shared
            return shared
        }
    }

    private companion object {
        /** Transfers being collected, by absolute path: shared by every downloader of the process. */
        val running = HashMap<String, Pair<ModelSpec, SharedFlow<Result<DownloadStatus>>>>()

        /** One writer at a time for each file, even if a transfer restarts while the last one closes. */
        val locks = HashMap<String, Mutex>()

        fun forget(key: String, shared: SharedFlow<Result<DownloadStatus>>) = synchronized(running) {
            if (running[key]?.second === shared) running.remove(key)
        }

        fun lockOf(file: File): Mutex = synchronized(locks) { locks.getOrPut(file.absolutePath) { Mutex() } }

        /** Where shared transfers run; each stops when its last collector leaves. */
        val sharing = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    }
}
