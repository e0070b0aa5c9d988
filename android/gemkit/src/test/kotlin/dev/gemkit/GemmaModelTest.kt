package dev.gemkit

import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.junit.Test

/** Loading: the memory check against what ActivityManager says, shrinking to fit, and the errors. */
class GemmaModelTest : ModelTestBase() {
    @Test
    fun `a model that needs more than the device has to spare is refused, or loaded with a shorter context`() = blocking {
        val full = GemmaModel.checkMemory(context, modelFile)
        val small = GemmaModel.checkMemory(context, modelFile, LoadOptions(contextLength = 512))
        assertEquals(DEVICE_SPARE, full.availableBytes)
        assertEquals(4096u, full.estimate.contextLength)
        val spare = (small.neededBytes + full.neededBytes) / 2
        setDeviceMemory(availMem = THRESHOLD + spare)

        val refused = assertFailsWith<GemmaException.NotEnoughMemory> { GemmaModel.load(context, modelFile) }
        assertEquals(full.neededBytes, refused.neededBytes)
        assertEquals(spare, refused.availableBytes)
        assertTrue(refused.message!!.startsWith("not enough memory to load the model: it needs"), refused.message)

        GemmaModel.load(context, modelFile, LoadOptions(shrinkContextToFit = true)).use { shrunk ->
            val context = shrunk.info.contextLength
            assertTrue(context in 512u until 4096u, "context $context")
            shrunk.chatSession().use { chat ->
                assertTrue(shrunk.memoryInUse() <= spare, "${shrunk.memoryInUse()} > $spare")
                assertEquals(4u, chat.reply("Hello", greedy(4)).stats.generatedTokens)
                // The budget is the model's now: a second session does not fit in it.
                assertFailsWith<GemmaException.OutOfMemory> { shrunk.chatSession() }
            }
        }
    }

    @Test
    fun `a device already low on memory refuses even a shrunk context`() = blocking {
        setDeviceMemory(availMem = THRESHOLD + 1_000_000)
        val refused = assertFailsWith<GemmaException.NotEnoughMemory> {
            GemmaModel.load(context, modelFile, LoadOptions(shrinkContextToFit = true))
        }
        assertEquals(1_000_000, refused.availableBytes)
    }

    @Test
    fun `a low-RAM device counts half of what is above the threshold, and no check skips it`() = blocking {
        setDeviceMemory(availMem = THRESHOLD + 100_000_000, lowRam = true)
        assertEquals(50_000_000, deviceAvailableMemory(context))
        setDeviceMemory(availMem = THRESHOLD - 1)
        assertEquals(0, deviceAvailableMemory(context))
        GemmaModel.load(context, modelFile, LoadOptions(availableMemory = null)).use { unchecked ->
            assertEquals("gemma3", unchecked.info.architecture)
        }
    }

    @Test
    fun `the engine's errors arrive as GemmaException`() = blocking {
        val missing = assertFailsWith<GemmaException.Io> { GemmaModel.load(context, File("/nonexistent/model.gguf")) }
        assertEquals("cannot open /nonexistent/model.gguf: No such file or directory (os error 2)", missing.message)
        assertTrue(missing.cause is GemKitException.Io)
        val corrupt = File.createTempFile("gemkit-", ".gguf").apply { deleteOnExit(); writeText("not a model") }
        assertFailsWith<GemmaException.InvalidModel> { GemmaModel.load(context, corrupt) }
        val badThreads = assertFailsWith<GemmaException.InvalidArgument> { GemmaModel.load(context, modelFile, LoadOptions(threads = 100_000)) }
        assertTrue(badThreads.message!!.contains("threads"), badThreads.message)
    }

    @Test
    fun `the model reports what it is and the memory its sessions take`() = blocking {
        assertEquals("gemma3", model.info.architecture)
        assertEquals(4096u, model.info.contextLength)
        val before = model.memoryInUse()
        model.chatSession().use { chat ->
            chat.reply("Hello", greedy(4))
            assertTrue(model.memoryInUse() > before, "${model.memoryInUse()} vs $before")
        }
        assertEquals(before, model.memoryInUse())
    }
}
