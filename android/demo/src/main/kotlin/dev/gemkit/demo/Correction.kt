package dev.gemkit.demo

import android.graphics.Color
import android.text.SpannableStringBuilder
import android.text.Spanned
import android.text.style.BackgroundColorSpan
import android.text.style.ForegroundColorSpan
import android.text.style.StrikethroughSpan
import dev.gemkit.Correction
import dev.gemkit.FinishReason
import dev.gemkit.SegmentKind

internal val INSERTED_BACKGROUND = Color.rgb(0xC8, 0xF0, 0xC8)
internal val DELETED_FOREGROUND = Color.rgb(0xC0, 0x20, 0x20)

/**
 * The correction's segments in order, the changes marked: inserted words on green, deleted
 * ones struck through in red. Read without the deleted ones, it is the correction; without the
 * inserted ones, the original.
 */
internal fun Correction.highlighted(): CharSequence = SpannableStringBuilder().apply {
    for (segment in segments) {
        val start = length
        append(segment.text)
        when (segment.kind) {
            SegmentKind.INSERTED -> setSpan(BackgroundColorSpan(INSERTED_BACKGROUND), start, length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
            SegmentKind.DELETED -> {
                setSpan(StrikethroughSpan(), start, length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
                setSpan(ForegroundColorSpan(DELETED_FOREGROUND), start, length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
            }
            SegmentKind.UNCHANGED -> {}
        }
    }
}

/** What a correction did, in a few words. */
internal fun Correction.summary(): String {
    val changes = segments.count { it.kind != SegmentKind.UNCHANGED }
    return when {
        finishReason != FinishReason.STOP_TOKEN -> "The model did not finish a correction ($finishReason): the text is unchanged"
        changes == 0 -> "No changes"
        else -> "$changes change${if (changes == 1) "" else "s"}"
    } + " · ${stats.generatedTokens} tokens"
}
