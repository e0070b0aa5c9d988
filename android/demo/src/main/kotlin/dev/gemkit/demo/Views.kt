package dev.gemkit.demo

import android.content.Context
import android.view.View
import android.widget.Button
import android.widget.LinearLayout
import android.widget.TextView

// The demo builds its views in code: no XML layouts, so nothing needs AGP's resource processing
// and the Maven build compiles the same sources.

internal fun column(context: Context, vararg children: View) = LinearLayout(context).apply {
    orientation = LinearLayout.VERTICAL
    setPadding(32, 32, 32, 32)
    children.forEach(::addView)
}

internal fun row(context: Context, vararg children: View) = LinearLayout(context).apply {
    orientation = LinearLayout.HORIZONTAL
    children.forEach(::addView)
}

internal fun button(context: Context, label: String, onClick: () -> Unit) = Button(context).apply {
    text = label
    setOnClickListener { onClick() }
}

internal fun label(context: Context, text: String = "") = TextView(context).apply { this.text = text }

internal fun megabytes(bytes: Long) = "%.1f MB".format(bytes / 1e6)
