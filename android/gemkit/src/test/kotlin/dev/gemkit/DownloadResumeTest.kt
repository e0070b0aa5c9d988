package dev.gemkit

import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Test

/** Resumes, restarts and sharing: each ends with the server's exact bytes in place. */
class DownloadResumeTest : DownloadTestBase() {
    @Test
    fun `a connection dropped mid-body resumes with Range and If-Range`() {
        val statuses = downloader.download(spec(FILE, "drop/1000000")).all()
        val done = done(statuses)
        assertBytes(server.digest(FILE).sha256, SIZE, done.file)
        val (first, resumed) = started(statuses)
        assertEquals(DownloadStatus.Started(SIZE, 0), first)
        assertTrue(resumed.resumedFromBytes in 1 until SIZE, "$resumed")
        val (dropped, resume) = server.log()
        assertEquals(null, dropped.range)
        assertEquals("bytes=${resumed.resumedFromBytes}-", resume.range)
        assertEquals(206, resume.status)
        assertEquals(SIZE - resumed.resumedFromBytes, resume.bytesSent)
        assertEquals(etag(server.digest(FILE).sha256), resume.ifRange)
        assertEquals(listOf(DownloadStatus.Verifying), statuses.filterIsInstance<DownloadStatus.Verifying>())
        assertEquals(emptyList(), leftovers())
    }

    @Test
    fun `a 200 answer to a resume starts over from byte zero`() {
        val statuses = downloader.download(spec(FILE, "drop/1000000", "norange")).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        assertEquals(listOf(DownloadStatus.Started(SIZE, 0), DownloadStatus.Started(SIZE, 0)), started(statuses))
        val resume = server.log()[1]
        assertTrue(resume.range!!.startsWith("bytes="), "a resume was asked: $resume")
        assertEquals(200, resume.status)
    }

    @Test
    fun `a file changed between attempts fails If-Range, and the new file is downloaded whole`() {
        val digest = server.digest(FILE)
        val statuses = downloader.download(spec(FILE, "drop/1000000", "changed", sha256 = digest.changedSha256)).all()
        assertBytes(digest.changedSha256, SIZE, done(statuses).file)
        assertEquals(listOf(DownloadStatus.Started(SIZE, 0), DownloadStatus.Started(SIZE, 0)), started(statuses))
        val second = server.log()[1]
        assertTrue(second.range!!.startsWith("bytes="), "$second")
        assertEquals(etag(digest.sha256), second.ifRange)
        assertEquals(200, second.status)
    }

    @Test
    fun `the spec's headers go with the resume too`() {
        val spec = spec(FILE, "auth/s3cret", "drop/1000000").copy(headers = mapOf("Authorization" to "Bearer s3cret"))
        assertBytes(server.digest(FILE).sha256, SIZE, done(downloader.download(spec).all()).file)
        val log = server.log()
        assertEquals(listOf(200, 206), log.map { it.status })
        assertEquals(listOf("Bearer s3cret", "Bearer s3cret"), log.map { it.headers["authorization"] })
    }

    @Test
    fun `a redirect within the host keeps the headers, one to another host drops Authorization`() {
        val auth = mapOf("Authorization" to "Bearer s3cret")
        val same = spec(FILE, "redirect/127.0.0.1", "auth/s3cret").copy(headers = auth)
        assertBytes(server.digest(FILE).sha256, SIZE, done(downloader.download(same).all()).file)
        runBlocking { downloader.delete(same) }
        val other = spec(FILE, "redirect/localhost", "auth/s3cret").copy(headers = auth)
        assertEquals(401, assertIs<DownloadException.Unauthorized>(failure(downloader.download(other).all())).code)
        val log = server.log()
        assertEquals(listOf(302, 200, 302, 401), log.map { it.status })
        assertEquals(listOf("Bearer s3cret", "Bearer s3cret", "Bearer s3cret", null), log.map { it.headers["authorization"] })
    }

    @Test
    fun `without an ETag, the resume's If-Range is the Last-Modified date`() {
        val statuses = downloader.download(spec(FILE, "drop/1000000", "noetag")).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        val resume = server.log()[1]
        assertTrue(resume.ifRange!!.matches(Regex("\\w{3}, \\d{2} \\w{3} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT")), "$resume")
        assertEquals(206, resume.status)
    }

    @Test
    fun `an answer without a length is read to its end`() {
        val statuses = downloader.download(spec(FILE, "nolength")).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        assertEquals(listOf(DownloadStatus.Started(null, 0)), started(statuses))
        assertTrue(statuses.filterIsInstance<DownloadStatus.Progress>().all { it.totalBytes == null && it.eta == null }, "$statuses")
    }

    @Test
    fun `cancelling keeps the part, closes the connection, and the next download resumes from it`() {
        val slow = spec(FILE, "slow/200000")
        runBlocking {
            withTimeout(60.seconds) {
                downloader.download(slow).first { it is DownloadStatus.Progress && it.bytes >= 100_000 }
            }
        }
        assertTrue(downloader.file(slow).resolveSibling("model.gguf.part").isFile, "the part is kept")
        // The server sees the connection closed: its request ends before the whole file.
        val cancelled = server.log().single()
        assertTrue(cancelled.bytesSent < SIZE, "$cancelled")

        val statuses = downloader.download(spec(FILE)).all()
        assertBytes(server.digest(FILE).sha256, SIZE, done(statuses).file)
        val resumedFrom = started(statuses).single().resumedFromBytes
        assertTrue(resumedFrom in 100_000 until SIZE, "resumed from $resumedFrom")
        assertEquals("bytes=$resumedFrom-", server.log()[1].range)
    }

    @Test
    fun `two collectors of one spec share one transfer`() {
        val spec = spec(FILE, "slow/1000000")
        val (a, b) = runBlocking {
            withTimeout(60.seconds) {
                val firstStarted = CompletableDeferred<Unit>()
                val a = async { downloader.download(spec).onEach { if (it is DownloadStatus.Started) firstStarted.complete(Unit) }.toList() }
                firstStarted.await()
                val b = async { downloader.download(spec).toList() }
                awaitAll(a, b)
            }
        }
        assertEquals(done(a), done(b))
        // b joined the transfer under way: it saw its progress, not only the end.
        assertTrue(b.any { it is DownloadStatus.Progress && it.bytes < SIZE }, "$b")
        assertEquals(1, server.log().size, "${server.log()}")
        assertBytes(server.digest(FILE).sha256, SIZE, done(a).file)
    }
}
