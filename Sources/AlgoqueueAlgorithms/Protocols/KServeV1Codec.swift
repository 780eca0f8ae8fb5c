/// `{"instances": [input, ...]}` answered by `{"predictions": [output, ...]}`, one prediction per instance, in
/// order (TF Serving's REST API, KServe V1, Vertex AI, MLflow's `/invocations`).
struct KServeV1Codec: ProtocolCodec {
    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8] {
        JSONBytes.object([("instances", JSONBytes.list(inputs))])
    }

    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch> {
        let expected = #"{"predictions": [...]} with \#(count) entr\#(count == 1 ? "y" : "ies")"#
        guard let predictions = JSONBytes.member("predictions", of: answer) else {
            return .failure(ProtocolMismatch(expected: expected, got: JSONBytes.describe(answer)))
        }
        guard let entries = JSONBytes.elements(predictions), entries.count == count else {
            let got =
                JSONBytes.elements(predictions).map { "\($0.count) predictions" } ?? "predictions that are not a list"
            return .failure(ProtocolMismatch(expected: expected, got: got))
        }
        return .success((entries.map { String(decoding: $0, as: UTF8.self) }, nil))
    }
}

/// A request template with `"{{input}}"` (one input) or `"{{inputs}}"` (the list of a micro-batch's inputs) and a
/// JSON pointer to the output (or to the list of outputs).
struct TemplateCodec: ProtocolCodec {
    let template: [UInt8]
    let pointer: String

    /// Whether the template takes a list of inputs.
    var takesList: Bool { template.firstRange(of: Self.listMark) != nil }

    static let singleMark = Array(#""{{input}}""#.utf8)
    static let listMark = Array(#""{{inputs}}""#.utf8)

    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8] {
        if let range = template.firstRange(of: Self.listMark) {
            return Array(template[..<range.lowerBound]) + JSONBytes.list(inputs) + Array(template[range.upperBound...])
        }
        guard inputs.count == 1, let range = template.firstRange(of: Self.singleMark) else {
            throw ProtocolMismatch(
                expected: #"a template with "{{inputs}}" for a micro-batch"#, got: #"one with "{{input}}" only"#)
        }
        return Array(template[..<range.lowerBound]) + inputs[0] + Array(template[range.upperBound...])
    }

    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch> {
        let place = pointer.isEmpty ? "the answer" : "\(pointer) in the answer"
        guard let value = JSONBytes.value(at: pointer, in: answer) else {
            return .failure(ProtocolMismatch(expected: "a value at \(place)", got: JSONBytes.describe(answer)))
        }
        guard takesList else { return .success(([String(decoding: value, as: UTF8.self)], nil)) }
        guard let entries = JSONBytes.elements(value), entries.count == count else {
            return .failure(
                ProtocolMismatch(expected: "a list of \(count) outputs at \(place)", got: JSONBytes.describe(value)))
        }
        return .success((entries.map { String(decoding: $0, as: UTF8.self) }, nil))
    }
}
