/// Seed inputs that cannot be written by hand (signed with the fuzz PKI's fixed keys).
public enum FuzzSeeds {
    public static func generated() throws -> [FuzzTarget: [String: [UInt8]]] {
        [.identity: try IdentityFuzz.shared.seeds()]
    }
}
