package dev.gemkit.demo

import android.inputmethodservice.InputMethodService
import android.view.View
import android.view.inputmethod.EditorInfo
import android.view.inputmethod.InputConnection
import android.widget.TextView
import dev.gemkit.GemmaException
import dev.gemkit.Proofreader
import kotlinx.coroutines.Job
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * The keyboard GemKit is for, at its smallest: a "Fix" key that proofreads the paragraph before
 * the cursor and puts the correction in its place, and a line that says what happened and how
 * much memory the model holds. The model is the process's [SharedModel]: loaded on the first
 * fix, then kept across keyboard sessions and shared with the app's screens.
 */
class FixKeyboard : InputMethodService() {
    private val scope = MainScope()
    private var proofreader: Proofreader? = null
    private var fixing: Job? = null
    private lateinit var status: TextView

    override fun onCreateInputView(): View {
        status = label(this)
        return column(this, button(this, "Fix") { fix() }, status)
    }

    override fun onStartInputView(info: EditorInfo?, restarting: Boolean) {
        super.onStartInputView(info, restarting)
        status.text = SharedModel.current?.let { "Gemma: ${megabytes(it.memoryInUse())} in use" } ?: "Gemma loads on the first fix"
    }

    override fun onFinishInput() {
        fixing?.cancel() // the field is gone: its text is not ours to replace any more
        super.onFinishInput()
    }

    override fun onDestroy() {
        scope.cancel()
        proofreader?.close()
        super.onDestroy()
    }

    private fun fix() {
        val text = currentInputConnection?.let(::paragraphBeforeCursor)
        if (text == null) {
            status.text = "Nothing to fix before the cursor"
            return
        }
        fixing?.cancel()
        fixing = scope.launch {
            status.text = "Fixing…"
            try {
                val model = SharedModel.get(this@FixKeyboard)
                val correction = (proofreader ?: model.proofreader().also { proofreader = it }).proofread(text)
                val changed = correction.corrected != text
                val replaced = changed && currentInputConnection?.let { replaceBeforeCursor(it, text, correction.corrected) } == true
                val outcome = if (changed && !replaced) "The text changed meanwhile: not replaced" else correction.summary()
                status.text = "$outcome · Gemma: ${megabytes(model.memoryInUse())} in use"
            } catch (e: GemmaException) {
                status.text = "Failed: ${e.message}"
            }
        }
    }
}

/** Enough for a paragraph; a keyboard should not ship a whole document to the model. */
private const val MAX_CHARS = 1000

/** The text between the start of its line (at most [MAX_CHARS] back) and the cursor, if it is not blank. */
internal fun paragraphBeforeCursor(connection: InputConnection): String? =
    connection.getTextBeforeCursor(MAX_CHARS, 0)?.toString()?.substringAfterLast('\n')?.takeIf { it.isNotBlank() }

/**
 * Replaces [original] with [corrected] in one batch edit, if [original] is still the text just
 * before the cursor: the user may have typed while the model worked, and then the correction is
 * of a text that is no longer there.
 */
internal fun replaceBeforeCursor(connection: InputConnection, original: String, corrected: String): Boolean {
    if (connection.getTextBeforeCursor(original.length, 0)?.toString() != original) return false
    connection.beginBatchEdit()
    try {
        connection.deleteSurroundingText(original.length, 0)
        connection.commitText(corrected, 1)
    } finally {
        connection.endBatchEdit()
    }
    return true
}
