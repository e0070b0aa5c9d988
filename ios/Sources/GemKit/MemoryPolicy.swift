// What a model frees when the system runs short of memory: the levels and the policy are plain
// Swift, tested on Linux (`GemmaModel.respond(to:)` is the policy's entry point); the Apple
// signals that call it (`MemoryPressureWatch`, and the pressure source's events, which Linux's
// Dispatch lacks) are the few lines not compiled here.
import Dispatch
import Foundation
#if canImport(UIKit)
import UIKit
#endif

/// How hard the system presses on memory, from either platform's signals (Kotlin has the same
/// three). `MemoryPolicy` says what a `GemmaModel` frees at each.
public enum MemoryPressure: Sendable, Equatable, CaseIterable {
    /// The app went to the background (iOS) or its UI out of sight (Android's `UI_HIDDEN`).
    case hidden
    /// The system is short of memory: a memory warning, the pressure source's `.warning`.
    case low
    /// The process is about to be ended: the pressure source's `.critical`.
    case critical


    #if canImport(Darwin)  // Linux's Dispatch has no memory-pressure source
    /// What a memory-pressure source's event means: nil for `.normal` (pressure has eased).
    public init?(_ event: DispatchSource.MemoryPressureEvent) {
        if event.contains(.critical) {
            self = .critical
        } else if event.contains(.warning) {
            self = .low
        } else {
            return nil
        }
    }
    #endif
}

/// What a `GemmaModel` frees under each `MemoryPressure` (`LoadOptions.memoryPolicy`); nil frees
/// nothing. `.caches` writes idle sessions' KV caches to the app's caches directory and frees
/// them and the prefixes' caches; a reply being generated goes on, and its session keeps its
/// cache. `.model` also cancels every request (each stops within one token, its session keeping
/// the reply so far) and unloads the model. Either way, the next use loads what it needs again
/// and every session continues exactly where it was.
public struct MemoryPolicy: Sendable {
    public var release: @Sendable (MemoryPressure) -> MemoryRelease?

    public init(release: @escaping @Sendable (MemoryPressure) -> MemoryRelease?) {
        self.release = release
    }

    /// Caches when in the background or short of memory; the whole model at critical pressure.
    public static let `default` = MemoryPolicy { pressure in
        switch pressure {
        case .hidden, .low: return .caches
        case .critical: return .model
        }
    }
}

/// The Apple glue of a model's policy: while the model lives, the memory warning and entering the
/// background (UIKit) and the memory-pressure source (Darwin) call `respond`. On Linux it has
/// nothing to observe.
final class MemoryPressureWatch: Sendable {
    private let stops = Locked<[@Sendable () -> Void]>([])

    func start(_ respond: @escaping @Sendable (MemoryPressure, String) -> Void) {
        #if canImport(UIKit)
        let center = NotificationCenter.default
        for (name, pressure) in [
            (UIApplication.didReceiveMemoryWarningNotification, MemoryPressure.low),
            (UIApplication.didEnterBackgroundNotification, MemoryPressure.hidden),
        ] {
            let token = center.addObserver(forName: name, object: nil, queue: nil) { _ in respond(pressure, name.rawValue) }
            stops.withLock { $0.append { center.removeObserver(token) } }
        }
        #endif
        #if canImport(Darwin)
        let source = DispatchSource.makeMemoryPressureSource(eventMask: [.warning, .critical], queue: .global(qos: .utility))
        source.setEventHandler {
            if let pressure = MemoryPressure(source.data) { respond(pressure, "memory pressure \(source.data)") }
        }
        source.resume()
        stops.withLock { $0.append { source.cancel() } }
        #endif
    }

    deinit {
        for stop in stops.withLock({ $0 }) { stop() }
    }
}
