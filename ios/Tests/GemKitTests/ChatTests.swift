// Chats: streamed turns, the chat prefix, two conversations on one engine, save and restore,
// and releasing a chat while it replies. Replies are greedy, so comparisons are exact.
import Foundation
import GemKit
import XCTest

/// Sends `message` and waits for the reply, which must equal the streamed text.
func send(_ chat: Chat, _ message: String, _ maxTokens: UInt32 = 24) throws -> Reply {
    let c = Collector()
    let handle = try chat.send(message: message, listener: c, options: greedy(maxTokens))
    let reply = try withExtendedLifetime(handle) { try c.reply() }
    XCTAssertEqual(reply.text, c.text)
    return reply
}

final class ChatTests: XCTestCase {
    /// The engine that tests without options of their own share, as an app would.
    private var engine: Engine!

    override func setUpWithError() throws {
        engine = try loadEngine()
    }

    let brief = ChatOptions(system: "Answer in one short sentence.")

    func testAChatStreamsItsReplyAChatFromTheChatPrefixGivesTheSame() throws {
        let plain = try engine.newChat(options: brief)
        let prefix = try engine.chatPrefix(options: brief)
        let fast = try engine.newChatFrom(prefix: prefix)
        let a = try send(plain, "What is the sun?")
        let b = try send(fast, "What is the sun?")
        XCTAssertEqual(a.ids, b.ids)
        XCTAssertEqual(a.stats.promptTokens - prefix.tokenCount(), b.stats.promptTokens)
        let history = [Message(role: .user, text: "What is the sun?"), Message(role: .model, text: a.text)]
        XCTAssertEqual(history, try plain.history())
        XCTAssertEqual(history, try fast.history())
    }

    func testTwoChatsKeepTheirOwnConversations() throws {
        let a = try engine.newChat()
        let b = try engine.newChat()
        let alone = try engine.newChat()
        _ = try send(a, "My name is Ada.", 16)
        _ = try send(b, "What is two plus two?", 16)
        let interleaved = try send(a, "What is my name?", 16)
        _ = try send(alone, "My name is Ada.", 16)
        XCTAssertEqual(try send(alone, "What is my name?", 16).ids, interleaved.ids)
        XCTAssertEqual([4, 2], [try a.history().count, try b.history().count])
    }

    func testASavedChatRestoresAndContinuesIdentically() throws {
        let path = tempPath("saved.chat")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let chat = try engine.newChat(options: brief)
        _ = try send(chat, "What is rain?", 12)
        try chat.save(path: path)
        let restored = try loadEngine().restoreChat(path: path)
        XCTAssertEqual(try chat.history(), try restored.history())
        let a = try send(chat, "And snow?", 16)
        let b = try send(restored, "And snow?", 16)
        XCTAssertEqual(a.ids, b.ids)
        XCTAssertEqual(a.stats.promptTokens, b.stats.promptTokens)
    }

    func testReleasingAChatCancelsItsRunningRequest() throws {
        let released = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try released.wait(for: "the release") } })
        var chat: Chat? = try engine.newChat()
        let handle = try chat!.send(message: longPrompt, listener: c, options: greedy(2000))
        try withExtendedLifetime(handle) {
            try c.firstText.wait(for: "the story")
            XCTAssertNotNil(chat)
            chat = nil
            released.open()
            XCTAssertEqual(.cancelled, try c.reply().finishReason)
        }
    }
}
