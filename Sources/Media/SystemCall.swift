/// The one place a C return code of the relay's system calls becomes a typed error (as
/// NIOPosix's System.swift does). The CBatonSys shims return a non-negative result or
/// `-errno`.
///
/// ```swift
/// try SystemCall.check(baton_epoll_add(ep, fd, data), "epoll_ctl(ADD)")
/// ```
enum SystemCall {
    @discardableResult
    @inline(__always)
    static func check(_ rc: Int32, _ call: @autoclosure () -> String) throws(MediaError) -> Int32 {
        guard rc >= 0 else { throw .system(call: call(), errno: -rc) }
        return rc
    }
}
