package dev.gemkit

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * What an owner closes when it closes: a model its sessions, prefixes, proofreaders and
 * completions; a session or a proofreader its requests in flight (closing a request cancels
 * it). A child closed on its own first is forgotten. Safe from any thread.
 */
internal class Owned(private val owner: String) {
    private val open = LinkedHashSet<AutoCloseable>()
    private var closed = false
    private val nonEmpty = MutableStateFlow(false)

    /** Whether any child is open: for a session, whether a request is in flight. */
    val any: StateFlow<Boolean> = nonEmpty.asStateFlow()

    /** Adopts [child], or closes it and throws if the owner is closed already. */
    fun <T : AutoCloseable> add(child: T): T {
        val adopted = synchronized(this) {
            if (!closed) {
                open += child
                nonEmpty.value = true
            }
            !closed
        }
        if (!adopted) {
            child.close()
            throw IllegalStateException("$owner is closed")
        }
        return child
    }

    fun remove(child: AutoCloseable) = synchronized(this) {
        open -= child
        nonEmpty.value = open.isNotEmpty()
    }

    fun checkOpen() = synchronized(this) { check(!closed) { "$owner is closed" } }

    /** Closes every child, newest first; false if this was done already. */
    fun closeAll(): Boolean {
        val children = synchronized(this) {
            if (closed) return false
            closed = true
            nonEmpty.value = false
            open.toList().also { open.clear() }
        }
        children.asReversed().forEach { it.close() }
        return true
    }
}
