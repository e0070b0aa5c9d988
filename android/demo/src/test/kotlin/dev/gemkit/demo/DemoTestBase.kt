package dev.gemkit.demo

import android.app.Activity
import android.app.ActivityManager
import android.content.Context
import android.os.Looper
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.gemkit.GemmaModel
import java.io.File
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.ConscryptMode
import org.robolectric.shadows.ShadowStatFs

/**
 * What the demo's tests share: a device with memory and storage to spare (Robolectric's
 * defaults say none), the real model (GEMKIT_MODEL), the process's shared model unloaded after
 * each test, and a user's way of reading a screen: by what it shows.
 */
@RunWith(RobolectricTestRunner::class)
@ConscryptMode(ConscryptMode.Mode.OFF) // plain HTTP to the fault server; Conscrypt fails outside the sandbox
abstract class DemoTestBase {
    protected val context: Context get() = RuntimeEnvironment.getApplication()
    protected val modelFile = File(System.getenv("GEMKIT_MODEL") ?: throw AssertionError("GEMKIT_MODEL is unset: run scripts/test-kotlin.sh"))

    @Before
    fun giveTheDeviceRoom() {
        val memory = ActivityManager.MemoryInfo().also { it.availMem = 2_200_000_000; it.threshold = 200_000_000 }
        shadowOf(context.getSystemService(ActivityManager::class.java)).setMemoryInfo(memory)
        val blocks = ((1L shl 40) / ShadowStatFs.BLOCK_SIZE).toInt()
        ShadowStatFs.registerStats(context.filesDir, blocks, blocks, blocks)
    }

    @After
    fun unloadTheModel() = runBlocking { SharedModel.unload() }

    /** The test model as the process's shared one, as if a screen had loaded it. */
    protected fun loadSharedModel(): GemmaModel = runBlocking { SharedModel.get(context, modelFile) }

    /**
     * Runs the main thread's queue, as the app's main thread would, until [done]; the model and
     * the downloads work on their own threads meanwhile. [done] sees every state the screen
     * passes through, at most 10 ms apart.
     */
    protected fun until(what: String, done: () -> Boolean) {
        val deadline = System.nanoTime() + 120_000_000_000L
        while (true) {
            shadowOf(Looper.getMainLooper()).idle()
            if (done()) return
            if (System.nanoTime() > deadline) throw AssertionError("timed out waiting for $what")
            Thread.sleep(10)
        }
    }

    protected fun Activity.root(): View = window.decorView

    protected fun View.all(): List<View> = listOf(this) + ((this as? ViewGroup)?.let { g -> (0 until g.childCount).flatMap { g.getChildAt(it).all() } } ?: emptyList())

    protected fun View.button(label: String): Button = all().filterIsInstance<Button>().single { it.text.toString() == label }

    protected fun View.input(): EditText = all().filterIsInstance<EditText>().single()

    /** The text of the one label (not a button or a field) that starts with one of [prefixes], or null. */
    protected fun View.label(vararg prefixes: String): String? = all()
        .filter { it is TextView && it !is Button && it !is EditText }
        .map { (it as TextView).text.toString() }
        .singleOrNull { text -> prefixes.any { text.startsWith(it) } }

    protected fun View.labelView(prefix: String): TextView =
        all().filterIsInstance<TextView>().single { it !is Button && it !is EditText && it.text.startsWith(prefix) }
}
