package dev.gemkit

import android.app.ActivityManager
import android.content.Context
import java.io.File
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.After
import org.junit.Before
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.ConscryptMode

/**
 * What the tests of the Kotlin API share: the real model (GEMKIT_MODEL, from
 * scripts/test-kotlin.sh), a device with [DEVICE_SPARE] bytes to spare as ActivityManager tells
 * it (Robolectric's default says none), and one model loaded with the defaults, closed after
 * each test.
 */
@RunWith(RobolectricTestRunner::class)
@ConscryptMode(ConscryptMode.Mode.OFF) // as DownloadTestBase says: plain HTTP only, and Conscrypt fails outside the sandbox
abstract class ModelTestBase {
    protected val context: Context get() = RuntimeEnvironment.getApplication()
    protected val modelFile = File(System.getenv("GEMKIT_MODEL") ?: throw AssertionError("GEMKIT_MODEL is unset: run scripts/test-kotlin.sh"))
    protected lateinit var model: GemmaModel

    @Before
    fun loadModel() {
        setDeviceMemory(availMem = DEVICE_SPARE + THRESHOLD)
        model = runBlocking { GemmaModel.load(context, modelFile) }
    }

    @After
    fun closeModel() = model.close()

    protected fun setDeviceMemory(availMem: Long, lowRam: Boolean = false) {
        val manager = shadowOf(context.getSystemService(ActivityManager::class.java))
        manager.setMemoryInfo(ActivityManager.MemoryInfo().also { it.availMem = availMem; it.threshold = THRESHOLD })
        manager.setIsLowRamDevice(lowRam)
    }

    /** Runs [block] to its end; a test that hangs fails instead. (JUnit 4 tests must return Unit.) */
    protected fun blocking(block: suspend CoroutineScope.() -> Unit) = runBlocking { withTimeout(120.seconds) { block() } }

    /** Starts collecting a reply and returns once its first event has come. */
    protected suspend fun CoroutineScope.sendUntilFirstEvent(chat: ChatSession, text: String, options: GenerationOptions): Deferred<List<ChatEvent>> {
        val started = CompletableDeferred<Unit>()
        val events = async { chat.send(text, options).onEach { started.complete(Unit) }.toList() }
        started.await()
        return events
    }

    protected companion object {
        const val THRESHOLD = 200_000_000L
        const val DEVICE_SPARE = 2_000_000_000L
        const val LONG_PROMPT = "Write a very long story about a lighthouse keeper:"

        /** Greedy decoding, so that every reply is reproducible. */
        fun greedy(maxTokens: Int, whenBusy: WhenBusy? = null) =
            GenerationOptions(maxTokens = maxTokens.toUInt(), sampling = Sampling(temperature = 0f), whenBusy = whenBusy)
    }
}
