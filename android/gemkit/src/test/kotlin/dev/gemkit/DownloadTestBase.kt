package dev.gemkit

import java.io.File
import java.security.MessageDigest
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Before
import org.junit.Rule
import org.junit.rules.TemporaryFolder
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.ConscryptMode
import org.robolectric.shadows.ShadowStatFs

/**
 * What the downloader tests share: a fresh directory with plenty of free space (as StatFs
 * tells it under Robolectric), a fault server token of their own, quick retries, and checks of
 * the bytes on disk made without the code under test.
 */
@RunWith(RobolectricTestRunner::class)
// Conscrypt (TLS) would read android.os.Build outside the sandbox, from the instrumented jar the
// library compiles against; these tests speak plain HTTP to the loopback fault server.
@ConscryptMode(ConscryptMode.Mode.OFF)
abstract class DownloadTestBase {
    @get:Rule val temp = TemporaryFolder()

    protected val server = FaultServer()
    protected lateinit var directory: File
    protected lateinit var downloader: ModelDownloader

    @Before
    fun makeDirectory() {
        directory = temp.newFolder("models")
        setFreeBytes(1L shl 40)
        downloader = ModelDownloader(directory, RetryPolicy(attempts = 3, firstDelay = 10.milliseconds, maxDelay = 40.milliseconds))
    }

    protected fun setFreeBytes(bytes: Long, where: File = directory) {
        val blocks = (bytes / ShadowStatFs.BLOCK_SIZE).coerceAtMost(Int.MAX_VALUE.toLong()).toInt()
        ShadowStatFs.registerStats(where, blocks, blocks, blocks)
    }

    /** A spec for [file] served with [scenarios], expecting [sha256] (the server's own by default). */
    protected fun spec(file: String, vararg scenarios: String, sha256: String? = server.digest(file).sha256, size: Long? = null) =
        ModelSpec(url = server.url(file, *scenarios), sha256 = sha256, sizeBytes = size, fileName = "model.gguf")

    /** Every status, up to and including the last; a download that hangs fails the test. */
    protected fun Flow<DownloadStatus>.all(): List<DownloadStatus> = runBlocking { withTimeout(120.seconds) { toList() } }

    protected fun done(statuses: List<DownloadStatus>): DownloadStatus.Done = assertIs<DownloadStatus.Done>(statuses.last(), "$statuses")

    protected fun failure(statuses: List<DownloadStatus>): DownloadException =
        assertIs<DownloadStatus.Failed>(statuses.last(), "$statuses").error

    /** The fault server's ETag for a version with this SHA-256. */
    protected fun etag(sha256: String) = "\"${sha256.take(32)}\""

    protected fun started(statuses: List<DownloadStatus>) = statuses.filterIsInstance<DownloadStatus.Started>()

    /** The file on disk holds exactly [expectedSha256]'s bytes, hashed here by the JDK. */
    protected fun assertBytes(expectedSha256: String, expectedSize: Long, file: File) {
        assertEquals(expectedSize, file.length(), "size of $file")
        val digest = MessageDigest.getInstance("SHA-256")
        file.inputStream().use { input ->
            val buffer = ByteArray(1 shl 16)
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                digest.update(buffer, 0, n)
            }
        }
        assertEquals(expectedSha256, digest.digest().joinToString("") { "%02x".format(it) }, "SHA-256 of $file")
    }

    /** The downloader's files beside the model: none may be left once it is in place or refused. */
    protected fun leftovers(): List<String> = directory.list()!!.filter { it != "model.gguf" && it != "model.gguf.verified" }.sorted()

    protected companion object {
        const val SIZE = 3_000_000L
        const val FILE = "synthetic-3000000.bin"
    }
}
