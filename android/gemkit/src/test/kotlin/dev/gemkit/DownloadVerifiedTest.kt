package dev.gemkit

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.Test

/** Files already in place, trust on first use, deleting, and the real model end to end. */
class DownloadVerifiedTest : DownloadTestBase() {
    @Test
    fun `a verified file is done at once, with no request`() {
        val spec = spec(FILE)
        assertFalse(downloader.isDownloaded(spec))
        val first = done(downloader.download(spec).all())
        assertTrue(downloader.isDownloaded(spec))
        assertEquals(listOf<DownloadStatus>(first), downloader.download(spec).all())
        assertEquals(1, server.log().size)
    }

    @Test
    fun `a file put in place by other means is hashed, then done, with no request`() {
        val spec = spec(FILE)
        val elsewhere = temp.newFolder("elsewhere")
        setFreeBytes(1L shl 40, elsewhere)
        val bytes = done(ModelDownloader(elsewhere).download(spec).all()).file.readBytes()
        downloader.file(spec).writeBytes(bytes)
        assertFalse(downloader.isDownloaded(spec), "nothing recorded it yet")
        val statuses = downloader.download(spec).all()
        assertEquals(listOf(DownloadStatus.Verifying, DownloadStatus.Done(downloader.file(spec), spec.sha256!!)), statuses)
        assertTrue(downloader.isDownloaded(spec))
        assertEquals(1, server.log().size)
    }

    @Test
    fun `a file rewritten since it was verified is downloaded again`() {
        val spec = spec(FILE)
        val file = done(downloader.download(spec).all()).file
        file.appendBytes(byteArrayOf(1))
        assertFalse(downloader.isDownloaded(spec))
        assertBytes(spec.sha256!!, SIZE, done(downloader.download(spec).all()).file)
        assertEquals(2, server.log().size)
    }

    @Test
    fun `trust on first use records the first hash and checks against it`() {
        val spec = ModelSpec(url = server.url(FILE), sha256 = null, sizeBytes = null, fileName = "model.gguf", trustOnFirstUse = true)
        val first = done(downloader.download(spec).all())
        assertEquals(server.digest(FILE).sha256, first.sha256)
        assertTrue(downloader.isDownloaded(spec))
        assertEquals(listOf<DownloadStatus>(first), downloader.download(spec).all())
        assertEquals(1, server.log().size)
        first.file.appendBytes(byteArrayOf(1))
        assertFalse(downloader.isDownloaded(spec))
    }

    @Test
    fun `trust on first use refuses a later download with another hash, even once the file is gone`() {
        val digest = server.digest(FILE)
        // Request 0 gets the file, later ones its changed version.
        val spec = ModelSpec(url = server.url(FILE, "changed"), sha256 = null, sizeBytes = null, fileName = "model.gguf", trustOnFirstUse = true)
        assertEquals(digest.sha256, done(downloader.download(spec).all()).sha256)
        downloader.file(spec).delete()
        assertFalse(downloader.isDownloaded(spec))
        val failed = assertIs<DownloadStatus.Failed>(downloader.download(spec).all().last())
        val mismatch = assertIs<DownloadException.ChecksumMismatch>(failed.error)
        assertEquals(digest.sha256 to digest.changedSha256, mismatch.expected to mismatch.actual)
        assertEquals(listOf("model.gguf.verified"), directory.list()!!.toList())
    }

    @Test
    fun `delete removes the file and its records`() {
        val spec = spec(FILE)
        done(downloader.download(spec).all())
        runBlocking { downloader.delete(spec) }
        assertFalse(downloader.isDownloaded(spec))
        assertEquals(emptyList(), directory.list()!!.toList())
    }

    @Test
    fun `the real model downloads and loads`() {
        val model = server.digest("model")
        val spec = ModelSpec(url = server.url("model"), sha256 = model.sha256, sizeBytes = model.size, fileName = "gemma.gguf")
        val file = done(downloader.download(spec).all()).file
        Engine.load(file.path, EngineOptions(contextLength = 64u)).use { engine ->
            assertEquals("gemma3", engine.info().architecture)
            assertEquals(model.size.toULong(), engine.info().fileBytes)
        }
    }
}
