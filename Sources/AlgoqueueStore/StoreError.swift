/// An error from the results store, with what to do about it.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The broad class of the failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The database file could not be opened or created.
        public static let open = Code(name: "open")
        /// A migration failed; the store is left at the last good version.
        public static let migration = Code(name: "migration")
        /// The database was written by a newer algoqueue.
        public static let newerSchema = Code(name: "newerSchema")
        /// Writing rows or offsets failed (read-only file, full disk, …).
        public static let write = Code(name: "write")
        /// Reading failed.
        public static let read = Code(name: "read")
        public var description: String { name }
    }

    /// The broad class of the failure.
    public var code: Code
    /// What happened and what to do.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
