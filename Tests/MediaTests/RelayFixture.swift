import Media

/// A started relay on `ports` (RTP/RTCP pairs from its lower bound) with `threads` relay
/// threads (0: one per core, the default). The caller shuts it down.
func startedRelay(ports: ClosedRange<Int>, threads: Int = 0) throws -> MediaRelay {
    var c = MediaRelay.Configuration()
    c.portMin = ports.lowerBound
    c.portMax = ports.upperBound
    c.threads = threads
    let relay = try MediaRelay(configuration: c)
    relay.start()
    return relay
}
