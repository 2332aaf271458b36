import Store

/// A write the call layer hands to the store, applied in order by ``StoreWriter``.
public typealias StoreOperation = StoreWrite
