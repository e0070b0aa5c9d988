package dev.gemkit

import android.os.StatFs
import java.io.File
import java.io.IOException
import java.io.InputStream
import java.io.RandomAccessFile
import java.net.HttpURLConnection
import java.net.URI
import java.net.URISyntaxException
import java.net.URL
import java.nio.file.Files
import java.nio.file.StandardCopyOption.ATOMIC_MOVE
import java.nio.file.StandardCopyOption.REPLACE_EXISTING
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.launch

/**
 * One download of [spec] into [directory], start to end: the checks, the requests with their
 * retries and resumes, the hash while the bytes stream in, and the move into place. It must be
 * the only one writing these files (ModelDownloader holds a lock for it), and it runs on a
 * thread that may block. [send] receives every status but the last, which [run] returns.
 */
internal class Transfer(
    private val spec: ModelSpec,
    private val directory: File,
    private val retry: RetryPolicy,
    private val send: suspend (DownloadStatus) -> Unit,
) {
    private val records = DownloadRecords(directory, spec.fileName)
    private val part = records.part

    // The connection being read; closing it is the one way to end a blocking read at once.
    @Volatile private var connection: HttpURLConnection? = null

    suspend fun run(): DownloadStatus = try {
        DownloadStatus.Done(records.target, download())
    } catch (e: DownloadException) {
        DownloadStatus.Failed(e)
    }

    private suspend fun download(): String {
        checkUrl(spec.url)
        records.verifiedSha256(spec)?.let { return it }
        // The hash the file must have: the spec's, or the one its first download recorded.
        val expected = spec.sha256 ?: records.firstSha256()
        if (expected != null && records.target.isFile) {
            send(DownloadStatus.Verifying)
            val actual = fileOp(records.target) { sha256File(records.target.path) }
            if (actual.equals(expected, ignoreCase = true)) {
                records.recordVerified(actual)
                return actual
            }
        }
        if (!directory.isDirectory && !directory.mkdirs()) throw DownloadException.FileError(directory, IOException("cannot create it"))
        var failures = 0
        while (true) {
            val before = part.length()
            val failure: Exception = try {
                val sha256 = fetch() ?: continue
                return finish(sha256, expected)
            } catch (e: DownloadException.Http) {
                if (e.code < 500) throw e
                e
            } catch (e: IOException) {
                currentCoroutineContext().ensureActive() // a read ended by cancellation is no network error
                e
            }
            failures = if (part.length() > before) 1 else failures + 1
            if (failures >= retry.attempts) throw failure as? DownloadException ?: DownloadException.Network(failures, failure)
            delay(retry.delayBefore(failures))
        }
    }

    /** One request; the hash of the whole part once it is complete, or null to start over at once. */
    private suspend fun fetch(): String? = coroutineScope {
        val closer = launch {
            try {
                awaitCancellation()
            } finally {
                connection?.disconnect()
            }
        }
        try {
            receive()
        } finally {
            closer.cancel()
        }
    }

    private suspend fun receive(): String? {
        val validator = records.resumeValidator(spec)
        val offset = if (validator != null) part.length() else 0L
        spec.sizeBytes?.let { checkSpace(it - offset) }
        val c = open(offset, validator)
        val code = c.responseCode
        val url = c.url.toString()
        when {
            code == 401 || code == 403 -> throw DownloadException.Unauthorized(code, url)
            code == 416 && offset > 0 -> return completePartOrNull(c, offset)
            code != 200 && code != 206 -> throw DownloadException.Http(code, url)
            code == 206 && offset == 0L -> throw DownloadException.UnexpectedResponse("$url answered 206 to a request for the whole file")
        }
        // A 200 to a range request is the whole file again: start over, never append it.
        val range = if (code == 206) contentRange(c, offset) else null
        val start = range?.first ?: 0L
        val total = total(url, range?.second ?: c.contentLengthLong.takeIf { code == 200 && it >= 0 })
        total?.let { checkSpace(it - start) }
        records.recordResume(spec, validatorOf(c))
        return Sha256().use { hasher ->
            if (start > 0) {
                val read = fileOp(part) { hasher.updateFromFile(part.path, start.toULong()) }
                if (read != start.toULong()) throw DownloadException.FileError(part, IOException("it shrank to $read bytes"))
            }
            fileOp(part) { RandomAccessFile(part, "rw") }.use { out ->
                fileOp(part) {
                    out.setLength(start)
                    out.seek(start)
                }
                send(DownloadStatus.Started(total, start))
                copy(c.inputStream, out, hasher, url, start, total)
                fileOp(part) { out.fd.sync() }
            }
            hasher.hex()
        }
    }

    private suspend fun copy(input: InputStream, out: RandomAccessFile, hasher: Sha256, url: String, start: Long, total: Long?) {
        val buffer = ByteArray(256 * 1024)
        val clock = ProgressClock(start, total)
        var bytes = start
        input.use {
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                if (total != null && bytes + n > total) {
                    throw DownloadException.UnexpectedResponse("$url sent more than the $total bytes it announced")
                }
                fileOp(part) { out.write(buffer, 0, n) }
                hasher.update(buffer.copyOf(n))
                bytes += n
                clock.progress(bytes)?.let { send(it) }
            }
        }
        if (total != null && bytes < total) throw IOException("the connection closed after $bytes of $total bytes")
    }

    /** 416 to a resume: the part may be the whole file already (then its hash), else start over. */
    private fun completePartOrNull(c: HttpURLConnection, offset: Long): String? {
        val total = Regex("bytes \\*/(\\d+)").matchEntire(c.getHeaderField("Content-Range").orEmpty())?.groupValues?.get(1)?.toLongOrNull()
        if (total == offset) return Sha256().use { fileOp(part) { it.updateFromFile(part.path, null) }; it.hex() }
        records.discardPart()
        return null
    }

    private suspend fun finish(sha256: String, expected: String?): String {
        send(DownloadStatus.Verifying)
        if (expected != null && !sha256.equals(expected, ignoreCase = true)) {
            records.discardPart()
            throw DownloadException.ChecksumMismatch(expected.lowercase(), sha256)
        }
        fileOp(records.target) { Files.move(part.toPath(), records.target.toPath(), ATOMIC_MOVE, REPLACE_EXISTING) }
        records.discardPart()
        records.recordVerified(sha256)
        return sha256
    }

    /** Opens the request, following up to five redirects itself: each must be secure, and
     *  Authorization never goes to another host. */
    private suspend fun open(offset: Long, validator: String?): HttpURLConnection {
        var url = URL(spec.url)
        var headers = spec.headers
        repeat(MAX_REDIRECTS + 1) {
            val c = url.openConnection() as HttpURLConnection
            c.instanceFollowRedirects = false
            c.connectTimeout = TIMEOUT_MS
            c.readTimeout = TIMEOUT_MS
            c.setRequestProperty("Accept-Encoding", "identity") // byte offsets are of the file itself
            headers.forEach(c::setRequestProperty)
            if (offset > 0) {
                c.setRequestProperty("Range", "bytes=$offset-")
                c.setRequestProperty("If-Range", validator)
            }
            connection = c
            currentCoroutineContext().ensureActive()
            val code = c.responseCode
            if (code !in REDIRECTS) return c
            val location = c.getHeaderField("Location")
            c.disconnect()
            val next = try {
                URL(url, location ?: throw DownloadException.UnexpectedResponse("$url answered $code with no Location"))
            } catch (e: IOException) {
                throw DownloadException.UnexpectedResponse("$url redirects to a malformed URL: $location")
            }
            checkUrl(next.toString())
            if (!next.host.equals(url.host, ignoreCase = true)) headers = headers.filterKeys { !it.equals("Authorization", ignoreCase = true) }
            url = next
        }
        throw DownloadException.UnexpectedResponse("more than $MAX_REDIRECTS redirects from ${spec.url}")
    }

    /** The start and total of a 206's Content-Range, which must start where the part ends. */
    private fun contentRange(c: HttpURLConnection, offset: Long): Pair<Long, Long?> {
        val header = c.getHeaderField("Content-Range").orEmpty()
        val m = Regex("bytes (\\d+)-(\\d+)/(\\d+|\\*)").matchEntire(header.trim())
        val start = m?.groupValues?.get(1)?.toLongOrNull()
        if (start != offset) throw DownloadException.UnexpectedResponse("${c.url} answered bytes=$offset- with Content-Range \"$header\"")
        return start to m.groupValues[3].toLongOrNull()
    }

    private fun total(url: String, announced: Long?): Long? {
        if (announced != null && spec.sizeBytes != null && announced != spec.sizeBytes) {
            throw DownloadException.UnexpectedResponse("$url serves $announced bytes; the spec says ${spec.sizeBytes}")
        }
        return announced ?: spec.sizeBytes
    }

    private fun checkSpace(needed: Long) {
        if (needed <= 0) return
        val free = StatFs(directory.path).availableBytes
        if (free < needed) throw DownloadException.InsufficientStorage(needed, free, directory)
    }

    private inline fun <T> fileOp(file: File, block: () -> T): T = try {
        block()
    } catch (e: IOException) {
        throw DownloadException.FileError(file, e)
    } catch (e: GemKitException) {
        throw DownloadException.FileError(file, e.toGemma()) // its message is the engine's line
    }

    /** Progress at most every 100 ms or 1% of the file, and at its last byte. */
    private class ProgressClock(private val start: Long, private val total: Long?) {
        private val began = System.nanoTime()
        private var lastNanos = began
        private var lastBytes = start

        fun progress(bytes: Long): DownloadStatus.Progress? {
            val now = System.nanoTime()
            val onePercent = total?.let { it / 100 } ?: Long.MAX_VALUE
            if (bytes != total && now - lastNanos < THROTTLE_NANOS && bytes - lastBytes < onePercent) return null
            lastNanos = now
            lastBytes = bytes
            val seconds = (now - began) / 1e9
            val rate = if (seconds > 0) ((bytes - start) / seconds).toLong() else 0L
            val eta = if (total != null && rate > 0) ((total - bytes).toDouble() / rate).seconds else null
            return DownloadStatus.Progress(bytes, total, rate, eta)
        }
    }

    private companion object {
        const val MAX_REDIRECTS = 5
        const val TIMEOUT_MS = 30_000
        const val THROTTLE_NANOS = 100_000_000L
        val REDIRECTS = setOf(301, 302, 303, 307, 308)
    }
}

private val LOOPBACK = setOf("127.0.0.1", "::1", "localhost")

/** https://, or http:// to this device only: anything else is [DownloadException.InsecureUrl]. */
internal fun checkUrl(url: String) {
    val uri = try {
        URI(url)
    } catch (_: URISyntaxException) {
        null
    }
    val scheme = uri?.scheme?.lowercase()
    val host = uri?.host?.removeSurrounding("[", "]")?.lowercase()
    if (!(scheme == "https" && !host.isNullOrEmpty() || scheme == "http" && host in LOOPBACK)) {
        throw DownloadException.InsecureUrl(url)
    }
}

private fun validatorOf(c: HttpURLConnection): String? =
    c.getHeaderField("ETag")?.takeIf { it.startsWith("\"") } ?: c.getHeaderField("Last-Modified")
