// A test runner small enough to read at a glance: named closures, run in order, each failure
// caught and printed, then the `N passed, N failed` line that CI reads.
package dev.gemkit.tests

import kotlin.system.exitProcess

class Harness {
    private val tests = mutableListOf<Pair<String, () -> Unit>>()

    fun test(name: String, body: () -> Unit) {
        tests += name to body
    }

    fun runAndExit(): Nothing {
        var failed = 0
        for ((name, body) in tests) {
            try {
                body()
                println("ok   $name")
            } catch (e: Throwable) {
                failed++
                println("FAIL $name: $e")
            }
        }
        println("${tests.size - failed} passed, $failed failed")
        exitProcess(if (failed == 0) 0 else 1)
    }
}
