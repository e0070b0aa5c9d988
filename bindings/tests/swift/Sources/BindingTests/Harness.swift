// A test runner small enough to read at a glance: named closures, run in order, each failure
// caught and printed, then the `N passed, N failed` line that CI reads.
import Foundation

struct Failure: Error, CustomStringConvertible {
    let description: String
}

final class Harness {
    private var tests: [(String, () throws -> Void)] = []

    func test(_ name: String, _ body: @escaping () throws -> Void) {
        tests.append((name, body))
    }

    func runAndExit() -> Never {
        var failed = 0
        for (name, body) in tests {
            do {
                try body()
                print("ok   \(name)")
            } catch {
                failed += 1
                print("FAIL \(name): \(error)")
            }
        }
        print("\(tests.count - failed) passed, \(failed) failed")
        exit(failed == 0 ? 0 : 1)
    }
}

func expectEqual<T: Equatable>(_ expected: T, _ actual: T, line: Int = #line) throws {
    if expected != actual {
        throw Failure(description: "line \(line): expected \(expected), got \(actual)")
    }
}

func expect(_ condition: Bool, _ what: @autoclosure () -> String, line: Int = #line) throws {
    if !condition {
        throw Failure(description: "line \(line): \(what())")
    }
}

/// The error `body` throws; a failure if it returns.
func expectThrows<T>(line: Int = #line, _ body: () throws -> T) throws -> Error {
    do {
        let value = try body()
        throw Failure(description: "line \(line): expected an error, got \(value)")
    } catch let failure as Failure {
        throw failure
    } catch {
        return error
    }
}
