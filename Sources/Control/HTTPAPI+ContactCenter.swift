import Calls
import ContactCenter
import Foundation
import Handoff
import HTTPTypes
import Hummingbird

/// The contact center's HTTP statuses (docs/contact-center.md, docs/http-api.md); the
/// operations are in ``APIHandler``.
extension HTTPAPI {
    /// The tenant of a request: `X-Baton-Tenant`, else the configured default. Keys and call
    /// data of one tenant are invisible to every other.
    static let tenantHeader = HTTPField.Name("X-Baton-Tenant")!

    static func status(of e: ContactCenterError) -> HTTPResponse.Status {
        switch e {
        case .invalid: .badRequest
        case .notFound: .notFound
        case .expired: .gone
        case .unavailable: .serviceUnavailable
        case .tooMany: .tooManyRequests
        }
    }
}
