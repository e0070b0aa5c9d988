package dev.gemkit

import java.io.File
import kotlin.time.Duration

/** What [ModelDownloader.download] reports; the flow ends after [Done] or [Failed]. */
sealed interface DownloadStatus {
    /** A response's body starts: [resumedFromBytes] were on disk already (0 when starting over). */
    data class Started(val totalBytes: Long?, val resumedFromBytes: Long) : DownloadStatus

    /** At most every 100 ms or 1% of the file; [bytes] counts what is on disk, resumed part included. */
    data class Progress(val bytes: Long, val totalBytes: Long?, val bytesPerSecond: Long, val eta: Duration?) : DownloadStatus

    /** Every byte is there; the hash is being checked (or, for a file found on disk, computed). */
    data object Verifying : DownloadStatus

    /** [file] is in place and hashes to [sha256]. */
    data class Done(val file: File, val sha256: String) : DownloadStatus

    data class Failed(val error: DownloadException) : DownloadStatus
}

/** Why a download failed. Nothing unverified is ever moved into place. */
sealed class DownloadException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /** The network failed [attempts] times in a row; the part on disk is kept for a resume. */
    class Network(val attempts: Int, cause: Throwable) :
        DownloadException("network error after $attempts attempt${if (attempts == 1) "" else "s"}: ${cause.message ?: cause}", cause)

    /** The server answered [code] (5xx after the retries; other codes at once). */
    class Http(val code: Int, val url: String) : DownloadException("HTTP $code from $url")

    /** 401 or 403: no token, a wrong one, or (gated models) a licence not accepted yet. */
    class Unauthorized(val code: Int, val url: String) : DownloadException(
        "HTTP $code: not authorized to download $url. If it is a gated model (as on Hugging Face), accept its " +
            "licence on the model's page with your account, and pass your access token in ModelSpec.headers " +
            "(\"Authorization\" to \"Bearer <token>\")",
    )

    class InsufficientStorage(val neededBytes: Long, val freeBytes: Long, val directory: File) :
        DownloadException("not enough storage in $directory: $neededBytes bytes needed, $freeBytes free")

    /** The downloaded bytes hash to [actual], not [expected]; the part was deleted. */
    class ChecksumMismatch(val expected: String, val actual: String) :
        DownloadException("SHA-256 mismatch: expected $expected, got $actual; the download was deleted")

    /** Only well-formed https:// URLs are allowed, and http:// to this device (127.0.0.1, ::1, localhost). */
    class InsecureUrl(val url: String) :
        DownloadException("refusing $url: only well-formed https:// URLs (or http:// to 127.0.0.1, ::1 or localhost)")

    /** The server's answer contradicts the request, itself or the spec (sizes, ranges, redirects). */
    class UnexpectedResponse(detail: String) : DownloadException(detail)

    /** Reading or writing a local file failed (the disk filled up, the directory is not writable…). */
    class FileError(val file: File, cause: Throwable) : DownloadException("cannot write or read $file: ${cause.message ?: cause}", cause)
}
