// Beside the generated bindings in module GemKit. UniFFI's Swift errors describe themselves with
// `String(reflecting:)`, a dump like `GemKitError.Io(reason: "...")`; making that the core's
// one-line message (every case's `reason`) gives `localizedDescription` and `"\(error)"` the
// text of Kotlin's `GemKitException.X.reason`.

extension GemKitError: CustomDebugStringConvertible {
    public var message: String {
        switch self {
        case .Io(let m), .InvalidModel(let m), .UnsupportedModel(let m), .InvalidArgument(let m),
            .ContextFull(let m, _, _), .OutOfMemory(let m), .Busy(let m), .InvalidChatFile(let m),
            .Internal(let m):
            return m
        }
    }

    public var debugDescription: String { message }
}
