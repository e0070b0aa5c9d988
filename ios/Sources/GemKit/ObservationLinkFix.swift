#if os(Linux) && compiler(<6.2)
/// Swift before 6.2 ships an Observation library for Linux that calls the Threading library's
/// fatal-error handler without defining it, so nothing that uses Observation links
/// (swiftlang/swift#75670, fixed by #85278). This is that handler; it runs only on a fatal
/// threading error. (The C++ name takes a printf format and arguments; the format says enough.)
@_cdecl("_ZN5swift9threading5fatalEPKcz")
func swiftThreadingFatal(_ format: UnsafePointer<CChar>) -> Never {
    fatalError(String(cString: format))
}
#endif
