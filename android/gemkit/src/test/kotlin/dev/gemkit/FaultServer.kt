package dev.gemkit

import java.net.HttpURLConnection
import java.net.URL
import java.util.UUID
import org.json.JSONArray
import org.json.JSONObject

/**
 * The tests' side of scripts/fault-server.py (its header has the URL grammar), which
 * scripts/test-kotlin.sh starts and names in GEMKIT_FAULT_SERVER. Each instance has its own
 * token, so its requests are counted and logged apart from every other test's.
 */
class FaultServer {
    private val base = System.getenv("GEMKIT_FAULT_SERVER")
        ?: throw AssertionError("GEMKIT_FAULT_SERVER is unset: run scripts/test-kotlin.sh, which starts scripts/fault-server.py")
    private val token = UUID.randomUUID().toString()

    /** The URL of [file] served with [scenarios] (e.g. "drop/1000000", "norange"). */
    fun url(file: String, vararg scenarios: String): String = (listOf(base, token) + scenarios + file).joinToString("/")

    /** What the server would serve for [file]: its size and SHA-256, and the changed version's. */
    fun digest(file: String): Digest {
        val json = JSONObject(get("$base/$token/digest/$file"))
        return Digest(json.getLong("size"), json.getString("sha256"), json.getString("changed_sha256"))
    }

    /**
     * Every request of this token, oldest first, once the server is done with each: a client
     * may have read the last byte before the server counted it.
     */
    fun log(): List<Request> {
        repeat(1000) {
            val log = currentLog()
            if (log.all { it.done }) return log
            Thread.sleep(10)
        }
        throw AssertionError("the fault server is still answering: ${currentLog()}")
    }

    private fun currentLog(): List<Request> {
        val array = JSONArray(get("$base/$token/log"))
        return (0 until array.length()).map { i ->
            val entry = array.getJSONObject(i)
            val headers = entry.getJSONObject("headers")
            Request(
                range = entry.optString("range").takeUnless { entry.isNull("range") },
                ifRange = entry.optString("if_range").takeUnless { entry.isNull("if_range") },
                headers = headers.keys().asSequence().associateWith { headers.getString(it) },
                status = entry.optInt("status"),
                bytesSent = entry.getLong("bytes_sent"),
                done = entry.getBoolean("done"),
            )
        }
    }

    data class Digest(val size: Long, val sha256: String, val changedSha256: String)

    data class Request(
        val range: String?,
        val ifRange: String?,
        val headers: Map<String, String>,
        val status: Int,
        val bytesSent: Long,
        val done: Boolean,
    )

    private fun get(url: String): String {
        val c = URL(url).openConnection() as HttpURLConnection
        try {
            check(c.responseCode == 200) { "GET $url: HTTP ${c.responseCode}" }
            return c.inputStream.bufferedReader().readText()
        } finally {
            c.disconnect()
        }
    }
}
