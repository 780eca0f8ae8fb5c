import AlgoqueueHTTPServer
import Foundation

/// The built-in demo algorithm, `text-stats`: for `{"text": "..."}` it answers the word and character counts,
/// the text upper-cased and a naive sentiment. Anything else gets HTTP 422 with a message saying what it wants.
public enum DemoAlgorithm {
    /// The path it is served on.
    public static let path = "/text-stats"

    static let positive: Set<String> = [
        "good", "great", "love", "excellent", "happy", "fast", "nice", "wonderful", "best",
    ]
    static let negative: Set<String> = ["bad", "awful", "hate", "slow", "terrible", "sad", "worst", "broken", "poor"]

    /// Answers one request.
    public static func handle(_ request: LoopbackHTTPRequest) async -> LoopbackHTTPReply {
        guard request.method == "POST", request.uri.hasPrefix(path) else {
            return .json(404, #"{"error": "POST JSON to \#(path)"}"#)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let text = object["text"] as? String
        else {
            return .json(422, #"{"error": "input must be a JSON object with a \"text\" field holding a string"}"#)
        }
        return .json(200, answer(for: text))
    }

    /// The JSON answer for `text`.
    public static func answer(for text: String) -> String {
        let words = text.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.map(String.init)
        let score = words.reduce(0) { $0 + (positive.contains($1) ? 1 : negative.contains($1) ? -1 : 0) }
        let sentiment = score > 0 ? "positive" : score < 0 ? "negative" : "neutral"
        let answer: [String: Any] = [
            "words": words.count, "characters": text.count, "upper": text.uppercased(), "sentiment": sentiment,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The demo's sample inputs: mostly good, plus the bad kinds algoqueue must turn into error rows
    /// (invalid JSON, wrong shape, empty value, JSON null, bytes that are not UTF-8).
    public static let sampleInputs: [[UInt8]] = {
        let texts = [
            "algoqueue turns any model endpoint into a Kafka worker",
            "I love how fast this is",
            "the old batch job was slow and awful",
            "results land in SQLite, one row per input",
            "offsets move only after rows are durable",
            "what a wonderful day for batch predictions",
            "a poison message never blocks its partition",
            "the queue takes no replies, the store does",
            "this is neither good nor bad",
            "scale out by starting more instances in one group",
            "great results, excellent throughput",
            "terrible network, broken endpoint, sad operator",
            "query the rows with sqlite3",
            "every input ends as a row: ok or error",
            "nothing is lost when the service is killed",
            "happy users publish with kcat",
        ]
        var inputs = texts.map { text -> [UInt8] in
            let data = try! JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys])
            return Array(data)
        }
        inputs.append(Array(#"{"text": 42}"#.utf8))  // wrong shape: the algorithm answers 422
        inputs.append(Array(#"{"text": "unterminated"#.utf8))  // invalid JSON
        inputs.append([])  // empty value
        inputs.append(Array("null".utf8))  // JSON null
        inputs.append([0x7B, 0x22, 0x74, 0xFF, 0xFE, 0x22, 0x7D])  // not UTF-8
        return inputs
    }()
}
