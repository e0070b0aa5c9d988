package dev.gemkit.demo

import android.app.Activity
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.gemkit.GemmaException
import dev.gemkit.Proofreader
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** The grammar screen: text in, the correction out with its insertions and deletions marked. */
class GrammarActivity : Activity() {
    private val scope = MainScope()
    private var proofreader: Proofreader? = null

    private lateinit var input: EditText
    private lateinit var fix: Button
    private lateinit var result: TextView
    private lateinit var stats: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        input = EditText(this).apply { hint = "Text to correct" }
        fix = button(this, "Fix") { fix() }.apply { isEnabled = false }
        result = label(this)
        stats = label(this, "Loading the model…")
        setContentView(column(this, input, fix, result, stats))
        scope.launch {
            try {
                proofreader = SharedModel.get(this@GrammarActivity).proofreader()
                fix.isEnabled = true
                stats.text = "Ready"
            } catch (e: GemmaException) {
                stats.text = "Cannot load the model: ${e.message}"
            }
        }
    }

    override fun onDestroy() {
        scope.cancel() // cancels a correction under way
        proofreader?.close()
        super.onDestroy()
    }

    private fun fix() {
        val proofreader = proofreader ?: return
        val text = input.text.toString()
        if (text.isBlank()) return
        fix.isEnabled = false
        stats.text = "Correcting…"
        scope.launch {
            try {
                val correction = proofreader.proofread(text)
                result.text = correction.highlighted()
                stats.text = correction.summary()
            } catch (e: GemmaException) {
                stats.text = "Failed: ${e.message}"
            } finally {
                fix.isEnabled = true
            }
        }
    }
}
