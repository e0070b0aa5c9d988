package dev.gemkit

import android.content.Context
import android.widget.TextView
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.junit.Test
import org.robolectric.shadows.ShadowStatFs

/**
 * The README's Android quickstart, verbatim between the markers below: the test checks that the
 * README still says exactly this, then runs it against the fault server and the real model.
 */
class QuickstartTest : ModelTestBase() {
    private suspend fun quickstart(context: Context, spec: ModelSpec, progress: TextView, answer: TextView, fixed: TextView) {
        // README quickstart begins
        // In a coroutine on the main thread (lifecycleScope.launch { … }); nothing here blocks it.
        val downloader = ModelDownloader(File(context.filesDir, "models"))
        downloader.download(spec).collect { if (it is DownloadStatus.Progress) progress.text = "${it.bytes} bytes" }
        val ready = downloader.status(spec).value as? ModelStatus.Ready ?: return
        GemmaModel.load(context, ready.file).use { model ->            // checks the device's memory first
            model.chatSession(system = "Answer briefly.").use { chat ->
                chat.send("Why is the sky blue?").collect { event ->     // cancel the collector to stop
                    answer.text = event.text                             // the reply so far
                    event.reply?.let { answer.append("\n${it.stats.decodeTokS} tok/s") }
                }
            }
            fixed.text = model.proofreader().use { it.proofread("i has two cat") }.corrected
        }
        // README quickstart ends
    }

    @Test
    fun `the README's quickstart is this one, and it runs`() {
        assertEquals(quickstartInSource(), quickstartInReadme())

        val server = FaultServer()
        val digest = server.digest("model")
        val spec = ModelSpec(url = server.url("model"), sha256 = digest.sha256, sizeBytes = digest.size, fileName = "gemma.gguf")
        val (progress, answer, fixed) = List(3) { TextView(context) }
        val freeBlocks = (1L shl 40) / ShadowStatFs.BLOCK_SIZE
        ShadowStatFs.registerStats(context.filesDir, freeBlocks.toInt(), freeBlocks.toInt(), freeBlocks.toInt()) // Robolectric's default: none free
        blocking { quickstart(context, spec, progress, answer, fixed) }
        assertEquals("${digest.size} bytes", progress.text.toString())
        assertTrue(answer.text.endsWith(" tok/s") && answer.text.length > 10, "${answer.text}")
        assertTrue(fixed.text.isNotEmpty())
    }

    private fun quickstartInSource(): String {
        val lines = repoFile("android/gemkit/src/test/kotlin/dev/gemkit/QuickstartTest.kt").readLines()
        val body = lines.subList(lines.indexOfFirst { it.trim() == "// README quickstart begins" } + 1, lines.indexOfFirst { it.trim() == "// README quickstart ends" })
        return body.joinToString("\n") { it.removePrefix(" ".repeat(8)) }
    }

    private fun quickstartInReadme(): String {
        val lines = repoFile("README.md").readLines()
        val start = lines.indexOf("## Android quickstart")
        val open = lines.subList(start, lines.size).indexOf("```kotlin") + start + 1
        return lines.subList(open, lines.subList(open, lines.size).indexOf("```") + open).joinToString("\n")
    }

    // Surefire runs in android/jvm/gemkit, three levels below the repository.
    private fun repoFile(path: String) = File("../../..", path)
}
