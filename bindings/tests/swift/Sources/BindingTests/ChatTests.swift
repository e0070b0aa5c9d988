// Chats: streamed turns, the chat prefix, two conversations on one engine, save and restore,
// and releasing a chat while it replies. Replies are greedy, so comparisons are exact.
import Foundation
import GemKit

/// Sends `message` and waits for the reply, which must equal the streamed text.
func send(_ chat: Chat, _ message: String, _ maxTokens: UInt32 = 24) throws -> Reply {
    let c = Collector()
    let handle = try chat.send(message: message, listener: c, options: greedy(maxTokens))
    let reply = try withExtendedLifetime(handle) { try c.reply() }
    try expectEqual(reply.text, c.text)
    return reply
}

func chatTests(_ t: Harness, _ engine: Engine, _ modelPath: String) {
    let brief = ChatOptions(system: "Answer in one short sentence.")

    t.test("a chat streams its reply; a chat from the chat prefix gives the same") {
        let plain = try engine.newChat(options: brief)
        let prefix = try engine.chatPrefix(options: brief)
        let fast = try engine.newChatFrom(prefix: prefix)
        let a = try send(plain, "What is the sun?")
        let b = try send(fast, "What is the sun?")
        try expectEqual(a.ids, b.ids)
        try expectEqual(a.stats.promptTokens - prefix.tokenCount(), b.stats.promptTokens)
        let history = [Message(role: .user, text: "What is the sun?"), Message(role: .model, text: a.text)]
        try expectEqual(history, try plain.history())
        try expectEqual(history, try fast.history())
    }

    t.test("two chats keep their own conversations") {
        let a = try engine.newChat()
        let b = try engine.newChat()
        let alone = try engine.newChat()
        _ = try send(a, "My name is Ada.", 16)
        _ = try send(b, "What is two plus two?", 16)
        let interleaved = try send(a, "What is my name?", 16)
        _ = try send(alone, "My name is Ada.", 16)
        try expectEqual(try send(alone, "What is my name?", 16).ids, interleaved.ids)
        try expectEqual([4, 2], [try a.history().count, try b.history().count])
    }

    t.test("a saved chat restores and continues identically") {
        let path = tempPath("saved.chat")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let chat = try engine.newChat(options: brief)
        _ = try send(chat, "What is rain?", 12)
        try chat.save(path: path)
        let restored = try Engine.load(path: modelPath).restoreChat(path: path)
        try expectEqual(try chat.history(), try restored.history())
        let a = try send(chat, "And snow?", 16)
        let b = try send(restored, "And snow?", 16)
        try expectEqual(a.ids, b.ids)
        try expectEqual(a.stats.promptTokens, b.stats.promptTokens)
    }

    t.test("releasing a chat cancels its running request") {
        let released = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try released.wait(for: "the release") } })
        var chat: Chat? = try engine.newChat()
        let handle = try chat!.send(message: longPrompt, listener: c, options: greedy(2000))
        try withExtendedLifetime(handle) {
            try c.firstText.wait(for: "the story")
            try expect(chat != nil, "the chat")
            chat = nil
            released.open()
            try expectEqual(.cancelled, try c.reply().finishReason)
        }
    }
}
