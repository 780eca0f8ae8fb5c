import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueSupport
import Foundation

/// Turns a message value into an algorithm input, or into the reason it cannot be one.
///
/// Every reason is a sentence a person can act on; none of them copies the payload.
struct InputDecoder {
    let maxInputBytes: Int
    /// Lower-cased names of the headers passed to the algorithm.
    var passHeaders: Set<String> = []

    /// The message headers to pass on: those named, and the W3C `traceparent` always, with UTF-8 values.
    func passedHeaders(_ message: KafkaMessage) -> [(name: String, value: String)] {
        guard !message.headers.isEmpty else { return [] }
        return message.headers.compactMap { header in
            let name = header.name.lowercased()
            guard passHeaders.contains(name) || name == "traceparent", let bytes = header.value,
                let value = String(validating: bytes, as: UTF8.self)
            else { return nil }
            return (header.name, value)
        }
    }

    enum Decoded {
        case input(AlgorithmInput)
        case invalid(String)
    }

    func decode(_ message: KafkaMessage) -> Decoded {
        decode(message, key: Self.keyText(message.key), valueIsText: false)
    }

    /// ``decode(_:)`` with what the caller already derived from the message (for its base row): the key as text,
    /// and whether the value is known to be UTF-8 text (then it is not checked again).
    func decode(_ message: KafkaMessage, key: String?, valueIsText: Bool) -> Decoded {
        let source = "\(message.topic)/\(message.partition)/\(message.offset)"
        guard let value = message.value else {
            return .invalid("the message has no value (null); publish a JSON document as the value")
        }
        guard !value.isEmpty else {
            return .invalid("the message value is empty; publish a JSON document as the value")
        }
        guard value.count <= maxInputBytes else {
            return .invalid(
                "the input is \(value.count) bytes, above the limit of \(maxInputBytes) bytes "
                    + "(pipeline.max_input_bytes); send a smaller input or raise the limit")
        }
        switch Self.contentType(of: message) {
        case .binary:
            return .input(with(AlgorithmInput(bytes: value, contentType: .binary, key: key, source: source), message))
        case .text:
            if !valueIsText, let bad = Self.firstInvalidUTF8Offset(value) {
                return .invalid(
                    "the message value is not valid UTF-8 text (bad byte at offset \(bad)), yet its content-type is text"
                )
            }
            return .input(with(AlgorithmInput(bytes: value, contentType: .text, key: key, source: source), message))
        case .json: break
        }
        if !valueIsText, let bad = Self.firstInvalidUTF8Offset(value) {
            return .invalid("the message value is not valid UTF-8 (bad byte at offset \(bad)); publish UTF-8 JSON")
        }
        do {
            try JSONSyntax.validate(value)
        } catch {
            return .invalid("the message value is not valid JSON: \(error)")
        }
        if JSONSyntax.topLevelKind(value) == "null" {
            return .invalid("the message value is JSON null; publish a JSON document with the input")
        }
        return .input(with(AlgorithmInput(json: value, key: key, source: source), message))
    }

    /// `input` with the message's passed headers.
    func with(_ input: AlgorithmInput, _ message: KafkaMessage) -> AlgorithmInput {
        var input = input
        input.headers = passedHeaders(message)
        return input
    }

    /// What a message holds, from its `content-type` header: `text/…` is text, `application/octet-stream` (or
    /// any other non-JSON type) bytes; no header, or a JSON type, is JSON.
    static func contentType(of message: KafkaMessage) -> InputContentType {
        guard !message.headers.isEmpty,
            let header = message.headers.last(where: { $0.name.lowercased() == "content-type" }),
            let value = header.value
        else { return .json }
        let type = String(decoding: value, as: UTF8.self).lowercased().trimmingCharacters(in: .whitespaces)
        if type.isEmpty || type.hasPrefix("application/json") || type.hasSuffix("+json") { return .json }
        return type.hasPrefix("text/") ? .text : .binary
    }

    /// The message key as text: UTF-8 as is, anything else as `0x`-prefixed hex.
    static func keyText(_ key: [UInt8]?) -> String? {
        guard let key else { return nil }
        if firstInvalidUTF8Offset(key) == nil { return String(decoding: key, as: UTF8.self) }
        return "0x" + key.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The value as text for the `input` column: nil when it is not UTF-8 or holds a NUL byte (SQLite text and
    /// the tools that read it end at a NUL); such a value is stored whole as a BLOB instead.
    static func inputText(_ value: [UInt8]?) -> String? {
        guard let value, !value.contains(0) else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The offset of the first byte that breaks UTF-8, or nil when all of it is valid.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        // The standard library's validation is fast; the walk below only runs to find where it broke.
        if String(validating: bytes, as: UTF8.self) != nil { return nil }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput:
                return nil
            case .error:
                return offset
            }
        }
    }
}
