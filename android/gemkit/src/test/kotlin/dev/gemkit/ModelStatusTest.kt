package dev.gemkit

import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Test

/** ModelDownloader.status: ML Kit's feature status, moved along by real downloads from the fault server. */
class ModelStatusTest : DownloadTestBase() {
    @Test
    fun `a download moves the status from not downloaded through downloading and verifying to ready, a delete back`() {
        val spec = spec(FILE, "slow/2000000")
        val seen = watch(spec) { assertBytes(spec.sha256!!, SIZE, done(downloader.download(spec).all()).file) }
        assertEquals(ModelStatus.NotDownloaded, seen.first())
        val downloading = seen.filterIsInstance<ModelStatus.Downloading>()
        assertTrue(downloading.size >= 2, "$seen")
        assertEquals(downloading.map { it.bytes }.sorted(), downloading.map { it.bytes })
        assertTrue(downloading.all { it.totalBytes == SIZE } && downloading.last().progress == 1f, "$downloading")
        assertEquals(listOf(ModelStatus.Verifying, ModelStatus.Ready(downloader.file(spec))), seen.takeLast(2))

        assertEquals(ModelStatus.Ready(downloader.file(spec)), ModelDownloader(directory).status(spec).value, "another downloader sees it")
        runBlocking { downloader.delete(spec) }
        assertEquals(ModelStatus.NotDownloaded, downloader.status(spec).value)
    }

    @Test
    fun `a failed download is Failed with the download's error, a stopped one not downloaded`() {
        val missing = spec(FILE, "status/404")
        assertEquals(404, assertIs<DownloadException.Http>(failure(downloader.download(missing).all())).code)
        val failed = assertIs<ModelStatus.Failed>(downloader.status(missing).value)
        assertEquals(404, assertIs<DownloadException.Http>(assertIs<GemmaException.Download>(failed.reason).error).code)

        val slow = spec(FILE, "slow/200000")
        runBlocking {
            withTimeout(60.seconds) {
                downloader.download(slow).first { it is DownloadStatus.Progress && it.bytes >= 100_000 }
                // The transfer stops after its last collector has left.
                downloader.status(slow).first { it == ModelStatus.NotDownloaded }
            }
        }
    }

    /** Every status of [spec] while [block] runs, as a collector that is never behind sees them. */
    private fun watch(spec: ModelSpec, block: () -> Unit): List<ModelStatus> = runBlocking {
        val seen = Collections.synchronizedList(mutableListOf<ModelStatus>())
        val watcher = launch(Dispatchers.Unconfined) { downloader.status(spec).collect { seen += it } }
        block()
        watcher.cancel()
        seen.toList()
    }
}
