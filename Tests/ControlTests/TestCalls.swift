import Calls
import Media

/// A call manager whose relay may bind only `ports` (each suite keeps its own block) and
/// whose clock stands at 5 s, for the HTTP API suites.
func testCalls(ports: ClosedRange<Int>) throws -> CallManager {
    var c = MediaRelay.Configuration()
    c.portMin = ports.lowerBound
    c.portMax = ports.upperBound
    return CallManager(relay: try MediaRelay(configuration: c), now: { 5 })
}
