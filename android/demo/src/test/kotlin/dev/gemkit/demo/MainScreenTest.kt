package dev.gemkit.demo

import kotlin.test.assertEquals
import org.junit.Test
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf

class MainScreenTest : DemoTestBase() {
    @Test
    fun `the launcher opens each screen`() {
        val activity = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        for ((label, screen) in listOf("Model" to ModelActivity::class, "Chat" to ChatActivity::class, "Grammar" to GrammarActivity::class)) {
            activity.root().button(label).performClick()
            assertEquals(screen.java.name, shadowOf(activity).nextStartedActivity.component?.className)
        }
    }
}
