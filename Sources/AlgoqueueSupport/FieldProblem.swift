/// One thing wrong in a module's configuration: the configuration key it is about (relative to where the
/// module's settings sit, such as `url` of an algorithm, or a full key such as `retry.max_attempts`) and
/// what is wrong, as a sentence that says how to fix it.
public struct FieldProblem: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
