import Store

/// A write the call layer hands to the store, applied in order by ``StoreWriter``.
public enum StoreOperation: Sendable {
    case call(CallRecord)
    case saveRegistration(RegistrationRecord)
    case deleteRegistration(aor: String, contact: String)
}
