import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Control

/// A 500 tells the client an incident id, never the internal error's text.
@Suite struct ErrorMiddlewareTests {
    struct Leaky: Error, CustomStringConvertible {
        var description: String { "SQLITE_CANTOPEN: /var/lib/baton/secret.sqlite (password=hunter2)" }
    }

    @Test func anInternalErrorIsAnIncidentIdNotItsText() async throws {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.get("/boom") { _, _ -> String in throw Leaky() }
        router.get("/bad") { _, _ -> String in throw HTTPError(.badRequest, message: "name must be 1-64 characters") }
        let app = Application(router: router)
        try await app.test(.router) { client in
            try await client.execute(uri: "/boom", method: .get) { r in
                #expect(r.status == .internalServerError)
                let body = String(buffer: r.body)
                #expect(!body.contains("hunter2") && !body.contains("secret.sqlite") && !body.contains("SQLITE"), "\(body)")
                #expect(body.contains("incident"), "\(body)")
            }
            // An HTTPError's own message is for the client and stays as it is.
            try await client.execute(uri: "/bad", method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("name must be 1-64 characters"))
            }
        }
    }
}
