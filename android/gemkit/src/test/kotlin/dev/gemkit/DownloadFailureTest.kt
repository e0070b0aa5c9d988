package dev.gemkit

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue
import org.junit.Test

/** Each way a download fails: the typed error, what was asked of the server, and nothing left in place. */
class DownloadFailureTest : DownloadTestBase() {
    @Test
    fun `a wrong hash is a checksum failure and leaves no file`() {
        val wrong = "0".repeat(64)
        val spec = spec(FILE, sha256 = wrong)
        val error = assertIs<DownloadException.ChecksumMismatch>(failure(downloader.download(spec).all()))
        assertEquals(wrong, error.expected)
        assertEquals(server.digest(FILE).sha256, error.actual)
        assertFalse(downloader.file(spec).exists())
        assertFalse(downloader.isDownloaded(spec))
        assertEquals(emptyList(), directory.list()!!.toList())
    }

    @Test
    fun `404 is an HTTP failure, not retried`() {
        val error = assertIs<DownloadException.Http>(failure(downloader.download(spec(FILE, "status/404,200")).all()))
        assertEquals(404, error.code)
        assertEquals(listOf(404), server.log().map { it.status })
    }

    @Test
    fun `401 says the download is not authorized, and is not retried`() = assertUnauthorized(401)

    @Test
    fun `403 says the download is not authorized, and is not retried`() = assertUnauthorized(403)

    private fun assertUnauthorized(code: Int) {
        val error = assertIs<DownloadException.Unauthorized>(failure(downloader.download(spec(FILE, "status/$code,200")).all()))
        assertEquals(code, error.code)
        assertTrue(error.message!!.contains("licence") && error.message!!.contains("Bearer"), error.message)
        assertEquals(listOf(code), server.log().map { it.status })
    }

    @Test
    fun `5xx answers are retried until one succeeds`() {
        val statuses = downloader.download(spec(FILE, "status/500,503,200")).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        assertEquals(listOf(500, 503, 200), server.log().map { it.status })
    }

    @Test
    fun `5xx answers past the retries fail with the last code`() {
        val error = assertIs<DownloadException.Http>(failure(downloader.download(spec(FILE, "status/500,500,502,200")).all()))
        assertEquals(502, error.code)
        assertEquals(3, server.log().size)
    }

    @Test
    fun `network errors past the retries fail, saying how many attempts were made`() {
        val error = assertIs<DownloadException.Network>(failure(downloader.download(spec(FILE, "drop/0,9")).all()))
        assertEquals(3, error.attempts)
        assertEquals(3, server.log().size)
    }

    @Test
    fun `too little free space fails before the request, or when the answer gives the size`() {
        setFreeBytes(1_000_000)
        val known = assertIs<DownloadException.InsufficientStorage>(failure(downloader.download(spec(FILE, size = SIZE)).all()))
        assertEquals(SIZE, known.neededBytes)
        assertEquals(1_000_000 / 4096 * 4096L, known.freeBytes)
        assertEquals(emptyList(), server.log())

        val announced = assertIs<DownloadException.InsufficientStorage>(failure(downloader.download(spec(FILE)).all()))
        assertEquals(SIZE, announced.neededBytes)
        assertEquals(1, server.log().size)
        assertEquals(emptyList(), directory.list()!!.toList(), "nothing written")
    }

    @Test
    fun `drops that each bring bytes do not use up the retries`() {
        val statuses = downloader.download(spec(FILE, "drop/500000,5")).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        assertEquals((0L until 6).map { it * 500_000 }, started(statuses).map { it.resumedFromBytes })
        assertEquals(6, server.log().size)
    }

    @Test
    fun `the free space needed counts the part already on disk`() {
        val once = ModelDownloader(directory, RetryPolicy(attempts = 1))
        assertIs<DownloadException.Network>(failure(once.download(spec(FILE, "drop/1000000")).all()))
        setFreeBytes(2_100_000) // the 2,000,000 bytes still missing, not the 3,000,000 of the file
        assertBytes(server.digest(FILE).sha256, SIZE, done(downloader.download(spec(FILE, size = SIZE)).all()).file)
    }

    @Test
    fun `plain http is refused except to this device`() {
        for (url in listOf("http://example.com/model.gguf", "ftp://example.com/model.gguf", "not a url", "https:///nohost")) {
            val spec = ModelSpec(url = url, sha256 = "0".repeat(64), sizeBytes = null, fileName = "model.gguf")
            val error = assertIs<DownloadException.InsecureUrl>(failure(downloader.download(spec).all()), url)
            assertEquals(url, error.url)
        }
    }

    @Test
    fun `a spec without a hash needs trust on first use`() {
        val e = runCatching { ModelSpec(url = "https://example.com/m.gguf", sha256 = null, sizeBytes = null, fileName = "m.gguf") }
        assertTrue(e.exceptionOrNull()!!.message!!.contains("trustOnFirstUse"))
    }
}
