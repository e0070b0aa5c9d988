package dev.gemkit.demo

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.os.SystemClock
import android.widget.Button
import android.widget.EditText
import android.widget.ScrollView
import android.widget.TextView
import dev.gemkit.ChatSession
import dev.gemkit.GemmaException
import dev.gemkit.GenerationOptions
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Job
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * The chat screen: the reply streams in as it is generated, Stop cancels it (the engine stops
 * within a token, and the chat keeps what was shown), and the line below says the time to the
 * first token and the decode speed.
 */
class ChatActivity : Activity() {
    private val scope = MainScope()
    private var session: ChatSession? = null
    private var reply: Job? = null
    private var maxTokens = DEFAULT_MAX_TOKENS

    /** The finished turns; the one being generated is shown after them. */
    private var done: CharSequence = ""

    private lateinit var transcript: TextView
    private lateinit var input: EditText
    private lateinit var send: Button
    private lateinit var stop: Button
    private lateinit var stats: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        maxTokens = intent.getIntExtra(EXTRA_MAX_TOKENS, DEFAULT_MAX_TOKENS)
        transcript = label(this)
        input = EditText(this).apply { hint = "Message" }
        send = button(this, "Send") { send() }.apply { isEnabled = false }
        stop = button(this, "Stop") { reply?.cancel() }.apply { isEnabled = false }
        stats = label(this, "Loading the model…")
        setContentView(column(this, ScrollView(this).apply { addView(transcript) }, input, row(this, send, stop), stats))
        scope.launch {
            try {
                session = SharedModel.get(this@ChatActivity).chatSession(SYSTEM)
                send.isEnabled = true
                stats.text = "Ready"
            } catch (e: GemmaException) {
                stats.text = "Cannot load the model: ${e.message}"
            }
        }
    }

    override fun onDestroy() {
        scope.cancel()
        session?.close()
        super.onDestroy()
    }

    private fun send() {
        val chat = session ?: return
        val text = input.text.toString().trim()
        if (text.isEmpty()) return
        input.setText("")
        done = "${done}You: $text\nGemma: "
        transcript.text = done
        send.isEnabled = false
        stop.isEnabled = true
        stats.text = "Thinking…"
        val sent = SystemClock.elapsedRealtime()
        var firstTokenMs: Long? = null
        reply = scope.launch {
            val turn = done
            try {
                chat.send(text, GenerationOptions(maxTokens = maxTokens.toUInt())).collect { event ->
                    if (firstTokenMs == null) firstTokenMs = SystemClock.elapsedRealtime() - sent
                    transcript.text = "$turn${event.text}"
                    event.reply?.let { stats.text = "TTFT %.0f ms · %.1f tok/s · %s".format(it.stats.ttftMs, it.stats.decodeTokS, it.finishReason) }
                }
            } catch (e: CancellationException) {
                stats.text = "Stopped" + (firstTokenMs?.let { " · TTFT $it ms" } ?: "")
                throw e
            } catch (e: GemmaException) {
                stats.text = "Failed: ${e.message}"
            } finally {
                done = "${transcript.text}\n\n"
                send.isEnabled = true
                stop.isEnabled = false
            }
        }
    }

    companion object {
        const val EXTRA_MAX_TOKENS = "maxTokens"
        private const val DEFAULT_MAX_TOKENS = 256
        private const val SYSTEM = "You are a helpful assistant. Answer briefly."

        /** This screen, with replies of at most [maxTokens] tokens. */
        fun intent(context: Context, maxTokens: Int): Intent = Intent(context, ChatActivity::class.java).putExtra(EXTRA_MAX_TOKENS, maxTokens)
    }
}
