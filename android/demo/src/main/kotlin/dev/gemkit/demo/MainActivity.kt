package dev.gemkit.demo

import android.app.Activity
import android.content.Intent
import android.os.Bundle

/** The launcher: the model, chat and grammar screens. (The keyboard is enabled in the system's settings.) */
class MainActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(
            column(
                this,
                button(this, "Model") { startActivity(Intent(this, ModelActivity::class.java)) },
                button(this, "Chat") { startActivity(Intent(this, ChatActivity::class.java)) },
                button(this, "Grammar") { startActivity(Intent(this, GrammarActivity::class.java)) },
            ),
        )
    }
}
