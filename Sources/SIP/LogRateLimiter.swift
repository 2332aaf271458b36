import Logging
import NIOCore

/// Lets at most `burst` log lines through per `interval`, then counts what it held back
/// and says so with the next line (rtpengine `LOG_FLAG_LIMIT`). Event-loop confined.
public final class LogRateLimiter {
    private let interval: TimeAmount
    private let burst: Int
    private var windowStart: NIODeadline = .distantPast
    private var inWindow = 0
    private var suppressed = 0

    public init(interval: TimeAmount = .seconds(1), burst: Int = 10) {
        self.interval = interval
        self.burst = burst
    }

    public func log(_ logger: Logger, _ level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
                    metadata: @autoclosure () -> Logger.Metadata = [:], now: NIODeadline = .now()) {
        if now - windowStart >= interval {
            if suppressed > 0 { logger.log(level: level, "\(suppressed) similar messages suppressed") }
            windowStart = now
            inWindow = 0
            suppressed = 0
        }
        guard inWindow < burst else { suppressed += 1; return }
        inWindow += 1
        logger.log(level: level, message(), metadata: metadata())
    }
}
