package dev.gemkit.demo

import android.graphics.Color
import android.text.Spanned
import android.text.style.BackgroundColorSpan
import android.text.style.ForegroundColorSpan
import android.text.style.StrikethroughSpan
import dev.gemkit.Correction
import dev.gemkit.FinishReason
import dev.gemkit.Segment
import dev.gemkit.SegmentKind
import dev.gemkit.Stats
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.Test
import org.robolectric.Robolectric

/** The grammar screen: text in, the model's correction out, its changes marked with spans. */
class GrammarScreenTest : DemoTestBase() {
    /**
     * The test model is Gemma 3 270M *base*: it does not follow the proofreading instruction
     * (it repeats it) and never ends its turn, so the engine keeps the text unchanged and says
     * why. The screen shows exactly the model's correction and summary.
     */
    @Test
    fun `Fix shows the model's correction and what it did`() {
        val model = loadSharedModel()
        val text = "i has two cat"
        val expected = runBlocking { model.proofreader().use { it.proofread(text) } }
        val screen = Robolectric.buildActivity(GrammarActivity::class.java).setup().get().root()
        until("the model") { screen.label("Ready") != null }

        screen.input().setText(text)
        screen.button("Fix").performClick()
        assertTrue(!screen.button("Fix").isEnabled)
        until("the correction") { screen.label("Correcting") == null && screen.label("Ready") == null }
        assertEquals(expected.summary(), screen.label(expected.summary()))
        assertEquals(FinishReason.LENGTH, expected.finishReason)
        assertTrue(expected.summary().startsWith("The model did not finish a correction (LENGTH): the text is unchanged"), expected.summary())
        val result = screen.labelView(text)
        assertEquals(expected.corrected, result.text.toString())
        assertTrue(screen.button("Fix").isEnabled)
    }

    /**
     * The marks, on a correction written here (the base model never makes one): deletions
     * struck through in red, insertions on green, unchanged text plain, in the segments' order.
     */
    @Test
    fun `insertions and deletions are marked with spans`() {
        val segments = listOf(
            Segment(SegmentKind.UNCHANGED, "i "),
            Segment(SegmentKind.DELETED, "has"),
            Segment(SegmentKind.INSERTED, "have"),
            Segment(SegmentKind.UNCHANGED, " two "),
            Segment(SegmentKind.DELETED, "cat"),
            Segment(SegmentKind.INSERTED, "cats"),
        )
        val correction = Correction("i have two cats", segments, FinishReason.STOP_TOKEN, Stats(5u, 20u, 5u, 10.0, 100.0, 50.0))
        val shown = correction.highlighted() as Spanned
        assertEquals("i hashave two catcats", shown.toString())
        fun marked(span: Class<*>) = shown.getSpans(0, shown.length, span).map { shown.subSequence(shown.getSpanStart(it), shown.getSpanEnd(it)).toString() }
        assertEquals(listOf("has", "cat"), marked(StrikethroughSpan::class.java))
        assertEquals(listOf("has", "cat"), marked(ForegroundColorSpan::class.java))
        assertEquals(listOf("have", "cats"), marked(BackgroundColorSpan::class.java))
        assertTrue(shown.getSpans(0, shown.length, ForegroundColorSpan::class.java).all { it.foregroundColor == DELETED_FOREGROUND && it.foregroundColor != Color.BLACK })
        assertEquals("4 changes · 5 tokens", correction.summary())
    }
}
