/// One write for ``Store/apply(_:)``: the call layer queues these and a single writer
/// applies them in batches, in order.
public enum StoreWrite: Sendable {
    case call(CallRecord)
    case saveRegistration(RegistrationRecord)
    case deleteRegistration(aor: String, contact: String)
}
