package dev.gemkit.demo

import android.view.inputmethod.EditorInfo
import android.view.inputmethod.InputConnection
import android.widget.EditText
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertSame
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.Test
import org.robolectric.Robolectric
import org.robolectric.util.ReflectionHelpers
import org.robolectric.util.ReflectionHelpers.ClassParameter

/**
 * The keyboard, on a real text field's InputConnection (an EditText's, the framework's own),
 * started as the system starts a keyboard on a field.
 */
class KeyboardTest : DemoTestBase() {
    /**
     * The fix key proofreads the paragraph before the cursor with the process's model (the one
     * already loaded, not a second), and says what the model did and the memory it holds. (The
     * base test model never finishes a correction, so the text stays: see the next test for the
     * replacement.)
     */
    @Test
    fun `the fix key proofreads the paragraph before the cursor with the shared model`() {
        val model = loadSharedModel()
        val expected = runBlocking { model.proofreader().use { it.proofread("i has two cat") } }
        val field = field("Dear team,\ni has two cat")
        val keyboard = Robolectric.buildService(FixKeyboard::class.java).create().get()
        val view = keyboard.onCreateInputView()
        startInput(keyboard, field)
        assertTrue(view.label("Gemma: ")!!.matches(Regex("Gemma: \\d+\\.\\d MB in use")), view.label("Gemma: "))

        view.button("Fix").performClick()
        until("the fix") { view.label("Fixing") == null }
        val status = view.label(expected.summary())!!
        assertTrue(status.matches(Regex(Regex.escape(expected.summary()) + " · Gemma: \\d+\\.\\d MB in use")), status)
        assertEquals("Dear team,\ni has two cat", field.text.toString())
        assertSame(model, SharedModel.current)
    }

    @Test
    fun `a correction replaces the text before the cursor, unless it changed meanwhile`() {
        val field = field("Dear team,\ni has two cat")
        val connection = field.onCreateInputConnection(EditorInfo())
        assertEquals("i has two cat", paragraphBeforeCursor(connection))
        assertTrue(replaceBeforeCursor(connection, "i has two cat", "I have two cats."))
        assertEquals("Dear team,\nI have two cats.", field.text.toString())
        assertEquals(field.length(), field.selectionStart)

        connection.commitText(" And", 1) // typed while the model worked
        assertFalse(replaceBeforeCursor(connection, "I have two cats.", "I have two cats!"))
        assertEquals("Dear team,\nI have two cats. And", field.text.toString())
        assertEquals(null, paragraphBeforeCursor(field("Dear team,\n").onCreateInputConnection(EditorInfo())))
    }

    private fun field(text: String) = EditText(context).apply {
        setText(text)
        setSelection(length())
    }

    /** What the system does when the keyboard starts on [field]: InputMethodService.doStartInput, then shows the keyboard. */
    private fun startInput(keyboard: FixKeyboard, field: EditText) {
        val info = EditorInfo()
        val connection = field.onCreateInputConnection(info)
        ReflectionHelpers.callInstanceMethod<Unit>(
            keyboard, "doStartInput",
            ClassParameter.from(InputConnection::class.java, connection),
            ClassParameter.from(EditorInfo::class.java, info),
            ClassParameter.from(Boolean::class.javaPrimitiveType, false),
        )
        keyboard.onStartInputView(info, false)
    }
}
