package dev.gemkit

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * A model file to download: where from, what it must hash to, and the name it gets on disk.
 *
 * [sha256] (64 hex digits) is checked before the file is moved into place. A spec without one
 * is refused unless [trustOnFirstUse]: then the first download's hash is recorded beside the
 * file and later checks compare against it. [headers] go with every request, resumes included
 * (e.g. `"Authorization" to "Bearer hf_…"` for a gated Hugging Face model), except that
 * Authorization is dropped when a redirect leads to another host.
 */
data class ModelSpec(
    val url: String,
    val sha256: String?,
    val sizeBytes: Long?,
    val fileName: String,
    val headers: Map<String, String> = emptyMap(),
    val trustOnFirstUse: Boolean = false,
) {
    init {
        require(sha256 != null || trustOnFirstUse) {
            "ModelSpec for $fileName has no sha256: give one, or set trustOnFirstUse to record the first download's"
        }
        require(sha256 == null || SHA256.matches(sha256)) { "sha256 must be 64 hex digits, not \"$sha256\"" }
        require(sizeBytes == null || sizeBytes >= 0) { "sizeBytes must not be negative: $sizeBytes" }
        require(fileName.isNotBlank() && fileName != "." && fileName != ".." && fileName.none { it == '/' || it == '\u0000' }) {
            "fileName must be a plain file name, not \"$fileName\""
        }
        require(RESERVED_SUFFIXES.none { fileName.endsWith(it) }) { "fileName must not end with one of $RESERVED_SUFFIXES" }
        for ((name, value) in headers) {
            require(name.isNotBlank() && (name + value).none { it == '\r' || it == '\n' }) { "header \"$name\" has a line break or no name" }
            require(RESERVED_HEADERS.none { it.equals(name, ignoreCase = true) }) { "the downloader sets the $name header itself" }
        }
    }

    private companion object {
        val SHA256 = Regex("[0-9a-fA-F]{64}")
        // The downloader's own files beside the model (see DownloadRecords).
        val RESERVED_SUFFIXES = listOf(".part", ".resume", ".verified")
        val RESERVED_HEADERS = listOf("Range", "If-Range", "Accept-Encoding")
    }
}

/**
 * How often a download is tried again after a network error or a 5xx answer: at most
 * [attempts] failures in a row (an attempt that wrote bytes starts the count again), waiting
 * [firstDelay], then twice as long each time, up to [maxDelay]. 4xx answers are never retried.
 */
data class RetryPolicy(
    val attempts: Int = 5,
    val firstDelay: Duration = 1.seconds,
    val maxDelay: Duration = 30.seconds,
) {
    init {
        require(attempts >= 1) { "attempts must be at least 1" }
    }

    internal fun delayBefore(failuresInARow: Int): Duration {
        var delay = firstDelay
        repeat(failuresInARow - 1) { delay = minOf(maxDelay, delay * 2) }
        return minOf(maxDelay, delay)
    }
}
