import AlgoqueueSupport

/// OpenAI-compatible `/v1/embeddings`: `{"model": M, "input": [text, ...]}` → `data[].embedding`, matched by
/// `index`. An input is a string, or an object whose `textField` holds the text; `usage` is kept as metadata.
struct OpenAIEmbeddingsCodec: ProtocolCodec {
    let model: String?
    let textField: String

    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8] {
        var texts: [[UInt8]] = []
        for input in inputs {
            if JSONSyntax.topLevelKind(input) == "string" {
                texts.append(input)
            } else if let text = JSONBytes.member(textField, of: input), JSONSyntax.topLevelKind(text) == "string" {
                texts.append(text)
            } else {
                throw ProtocolMismatch(
                    expected: #"a string, or an object whose "\#(textField)" is a string"#,
                    got: JSONBytes.describe(input))
            }
        }
        var members: [(String, [UInt8])] = []
        if let model { members.append(("model", JSONBytes.string(model))) }
        members.append(("input", JSONBytes.list(texts)))
        return JSONBytes.object(members)
    }

    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch> {
        let expected = #"{"data": [{"index": i, "embedding": [...]}, ...]} with \#(count) entries"#
        guard let data = JSONBytes.member("data", of: answer).flatMap(JSONBytes.elements), data.count == count else {
            return .failure(ProtocolMismatch(expected: expected, got: JSONBytes.describe(answer)))
        }
        var outputs = [String?](repeating: nil, count: count)
        for (position, entry) in data.enumerated() {
            let index = JSONBytes.member("index", of: entry).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
            guard let embedding = JSONBytes.member("embedding", of: entry), let slot = index ?? Optional(position),
                outputs.indices.contains(slot), outputs[slot] == nil
            else {
                return .failure(ProtocolMismatch(expected: expected, got: JSONBytes.describe(entry)))
            }
            outputs[slot] = String(decoding: embedding, as: UTF8.self)
        }
        let usage = JSONBytes.member("usage", of: answer).map {
            String(decoding: JSONBytes.object([("usage", $0)]), as: UTF8.self)
        }
        return .success((outputs.map { $0! }, usage))
    }
}

/// OpenAI-compatible `/v1/chat/completions`, one input per call: a string becomes one user message, an object
/// with `messages` goes as it is; `model` and the configured parameters are added. The output is
/// `choices[0].message.content`; `finish_reason` and `usage` are kept as metadata.
struct OpenAIChatCodec: ProtocolCodec {
    let model: String?
    let parameters: [(String, [UInt8])]

    init(model: String?, parameters: [String: String]) {
        self.model = model
        self.parameters = parameters.sorted { $0.key < $1.key }.map { name, value in
            let bytes = Array(value.utf8)
            return (name, (try? JSONSyntax.validate(bytes)) != nil ? bytes : JSONBytes.string(value))
        }
    }

    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8] {
        guard inputs.count == 1 else {
            throw ProtocolMismatch(expected: "one input per call", got: "a micro-batch of \(inputs.count)")
        }
        let input = inputs[0]
        var members: [(String, [UInt8])] = []
        if let model { members.append(("model", JSONBytes.string(model))) }
        if JSONSyntax.topLevelKind(input) == "string" {
            let message = JSONBytes.object([("role", JSONBytes.string("user")), ("content", input)])
            members.append(("messages", JSONBytes.list([message])))
        } else if let fields = JSONSyntax.objectMembers(input), fields.contains(where: { $0.name == "messages" }) {
            members += fields.filter { field in !members.contains { $0.0 == field.name } }
                .map { ($0.name, Array(input[$0.value])) }
        } else {
            throw ProtocolMismatch(
                expected: #"a string, or an object with "messages""#, got: JSONBytes.describe(input))
        }
        members += parameters.filter { parameter in !members.contains { $0.0 == parameter.0 } }
        return JSONBytes.object(members)
    }

    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch> {
        guard let choice = JSONBytes.value(at: "/choices/0", in: answer),
            let content = JSONBytes.value(at: "/message/content", in: choice)
        else {
            return .failure(
                ProtocolMismatch(
                    expected: #"{"choices": [{"message": {"content": ...}}]}"#, got: JSONBytes.describe(answer)))
        }
        var metadata: [(String, [UInt8])] = []
        if let reason = JSONBytes.member("finish_reason", of: choice) { metadata.append(("finish_reason", reason)) }
        if let usage = JSONBytes.member("usage", of: answer) { metadata.append(("usage", usage)) }
        return .success(
            (
                [String(decoding: content, as: UTF8.self)],
                metadata.isEmpty ? nil : String(decoding: JSONBytes.object(metadata), as: UTF8.self)
            ))
    }
}
