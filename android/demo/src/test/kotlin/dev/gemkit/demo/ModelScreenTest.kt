package dev.gemkit.demo

import android.widget.ProgressBar
import dev.gemkit.FaultServer
import dev.gemkit.ModelSpec
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.Test
import org.robolectric.Robolectric

/** The model screen, driven as a user would: download, watch the progress and the check, delete. */
class ModelScreenTest : DemoTestBase() {
    @Test
    fun `the model downloads with its progress shown, is verified, fits in memory, and is deleted`() {
        val server = FaultServer()
        val model = server.digest("model")
        // 40 MB/s: a few seconds, long enough to see the progress move.
        val spec = ModelSpec(url = server.url("model", "slow/40000000"), sha256 = model.sha256, sizeBytes = model.size, fileName = "gemma.gguf")
        val screen = Robolectric.buildActivity(ModelActivity::class.java, ModelActivity.intent(context, spec)).setup().get().root()
        until("the status") { screen.label("Not downloaded") != null }
        assertTrue(screen.button("Download").isEnabled)

        screen.button("Download").performClick()
        val progress = screen.all().filterIsInstance<ProgressBar>().single()
        val statuses = mutableListOf<String>()
        val bars = mutableListOf<Int>()
        until("the model ready") {
            screen.label("Not downloaded", "Downloading", "Verifying", "Verified", "Failed")?.let { if (statuses.lastOrNull() != it) statuses += it }
            bars += progress.progress
            statuses.last().startsWith("Verified")
        }
        assertFalse(statuses.any { it.startsWith("Failed") }, "$statuses")
        val downloading = statuses.filter { it.startsWith("Downloading") }
        assertTrue(downloading.size >= 3, "the progress moved: $statuses")
        assertTrue(downloading.last().endsWith("of ${"%.1f MB".format(model.size / 1e6)}"), downloading.last())
        assertTrue(bars.any { it in 1 until progress.max }, "the bar moved: ${bars.distinct()}")
        // The hash is computed as the bytes arrive, so checking it is over too soon to be seen here.
        assertEquals("Verified, ready: ${SharedModel.downloader(context).file(spec).path}", statuses.last())
        assertEquals(progress.max, progress.progress)

        until("the memory check") { screen.label("Needs") != null }
        val check = screen.label("Needs")!!
        assertTrue(check.contains("the device has 2000.0 MB to spare") && check.endsWith("it fits."), check)
        assertFalse(screen.button("Download").isEnabled)

        screen.button("Delete").performClick()
        until("the delete") { screen.label("Not downloaded") != null }
        assertFalse(SharedModel.downloader(context).file(spec).exists())
        assertEquals(0, progress.progress)
    }
}
