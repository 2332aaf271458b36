import Foundation

/// One SDES `a=crypto` attribute (RFC 4568): tag, suite, and the inline master key+salt.
///
/// ```swift
/// let c = SDESCrypto(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4")
/// c?.key        // 30 bytes
/// c?.attributeValue   // "1 AES_CM_128_HMAC_SHA1_80 inline:..."
/// ```
public struct SDESCrypto: Sendable, Equatable {
    public var tag: Int
    /// The suite name as written ("AES_CM_128_HMAC_SHA1_80").
    public var suite: String
    /// Master key followed by master salt.
    public var key: [UInt8]
    /// Lifetime and MKI parameters after the key ("|2^20|1:4"), kept as written.
    public var keyParameterTail: String
    /// Session parameters after the key-params ("UNENCRYPTED_SRTCP" ...).
    public var sessionParameters: [String]

    public init(tag: Int, suite: String, key: [UInt8], keyParameterTail: String = "", sessionParameters: [String] = []) {
        self.tag = tag; self.suite = suite; self.key = key
        self.keyParameterTail = keyParameterTail; self.sessionParameters = sessionParameters
    }

    /// Parses the value of `a=crypto:` (without the attribute name); nil when malformed.
    public init?(parsing value: String) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 3, let tag = Int(parts[0]), (0...999_999_999).contains(tag),
              parts[2].hasPrefix("inline:") else { return nil }
        let params = parts[2].dropFirst("inline:".count)
        let keyText: Substring
        let tail: String
        if let bar = params.firstIndex(of: "|") {
            keyText = params[..<bar]
            tail = String(params[bar...])
        } else {
            keyText = params
            tail = ""
        }
        var b64 = String(keyText)
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), !data.isEmpty else { return nil }
        self.init(tag: tag, suite: parts[1], key: [UInt8](data), keyParameterTail: tail,
                  sessionParameters: Array(parts.dropFirst(3)))
    }

    /// The attribute value to write after `a=crypto:`.
    public var attributeValue: String {
        let inline = "inline:" + Data(key).base64EncodedString() + keyParameterTail
        return ([String(tag), suite, inline] + sessionParameters).joined(separator: " ")
    }
}
