package dev.gemkit

import java.io.File
import java.io.IOException
import java.util.Properties

/**
 * The small files the downloader keeps beside a model `NAME`:
 *
 * - `NAME.part`: the bytes received so far;
 * - `NAME.resume`: what the part is of (the expected hash, or the URL when there is none) and
 *   the server's validator (its strong ETag, else Last-Modified) to send as If-Range on a resume;
 * - `NAME.verified`: the hash, size and modification time of `NAME` when this downloader moved
 *   it into place after checking it. [isVerified] trusts it, so that asking whether a model of
 *   gigabytes is there costs a `stat`, not a minute of hashing; a file replaced or rewritten
 *   since gets another size or time and is hashed again. (What it does not catch, bytes rotting
 *   in place, the engine's own checks of the file's structure do.) For a spec without a hash
 *   (trust on first use) its hash is also the one every later download must have, even once
 *   the file itself is gone: [firstSha256].
 *
 * A record that cannot be read or parsed counts as absent: it only ever saves work.
 */
internal class DownloadRecords(directory: File, fileName: String) {
    val target = File(directory, fileName)
    val part = File(directory, "$fileName.part")
    private val resume = File(directory, "$fileName.resume")
    private val verified = File(directory, "$fileName.verified")

    /** The recorded hash of [target] if the record still describes it and fits [spec]. */
    fun verifiedSha256(spec: ModelSpec): String? {
        val record = read(verified) ?: return null
        val sha256 = record.getProperty("sha256") ?: return null
        val fits = target.isFile &&
            record.getProperty("bytes") == target.length().toString() &&
            record.getProperty("modified") == target.lastModified().toString() &&
            (spec.sizeBytes == null || spec.sizeBytes == target.length()) &&
            (spec.sha256 == null || spec.sha256.equals(sha256, ignoreCase = true))
        return sha256.takeIf { fits }
    }

    /** The hash recorded when a file of this name was first moved into place, whatever became of it since. */
    fun firstSha256(): String? = read(verified)?.getProperty("sha256")

    fun recordVerified(sha256: String) = write(
        verified,
        "sha256" to sha256, "bytes" to target.length().toString(), "modified" to target.lastModified().toString(),
    )

    /** The If-Range validator to resume [part] with, or null (and no part left) when it cannot be resumed. */
    fun resumeValidator(spec: ModelSpec): String? {
        val record = read(resume)
        val validator = record?.getProperty("validator")?.takeIf { record.getProperty("for") == identity(spec) }
        if (validator != null && part.isFile) return validator
        discardPart()
        return null
    }

    /** Remembers what the bytes about to be written to [part] are, or forgets it when there is no validator. */
    fun recordResume(spec: ModelSpec, validator: String?) {
        if (validator == null) resume.delete() else write(resume, "for" to identity(spec), "validator" to validator)
    }

    fun discardPart() {
        part.delete()
        resume.delete()
    }

    fun deleteAll() {
        discardPart()
        verified.delete()
        target.delete()
    }

    // A part is of a hash, whatever URL served it; without a hash, of its URL.
    private fun identity(spec: ModelSpec) = spec.sha256?.lowercase() ?: "url ${spec.url}"

    private fun read(file: File): Properties? = try {
        if (file.isFile) Properties().apply { file.reader().use(::load) } else null
    } catch (_: IOException) {
        null
    } catch (_: IllegalArgumentException) {
        null
    }

    private fun write(file: File, vararg entries: Pair<String, String>) {
        try {
            val temp = File(file.path + ".tmp")
            temp.writer().use { w -> Properties().apply { entries.forEach { (k, v) -> setProperty(k, v) } }.store(w, null) }
            if (!temp.renameTo(file)) throw IOException("cannot rename $temp to $file")
        } catch (e: IOException) {
            throw DownloadException.FileError(file, e)
        }
    }
}
