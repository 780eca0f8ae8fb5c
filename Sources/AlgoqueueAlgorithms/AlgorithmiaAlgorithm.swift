import AlgoqueueSupport
import Foundation

/// How to call an algorithm through an Algorithmia-style API.
public struct AlgorithmiaConfiguration: Sendable {
    /// The name rows are stored under. Default: the algorithm path (`owner/name/version`).
    public var name: String?
    /// The API's base URL. Default: `https://api.algorithmia.com`.
    public var baseURL: String = "https://api.algorithmia.com"
    /// The algorithm: `owner/name/version` (or `owner/name` for the latest version).
    public var algorithm: String
    /// The API key, sent as `Authorization: Simple KEY`. Never logged, never written to a row.
    public var apiKey: String?
    /// How long one call may take; also sent to the API as the `timeout` query parameter (whole seconds).
    public var timeout: Duration = CallLimits.defaultTimeout
    /// The largest answer accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = CallLimits.defaultMaxAnswerBytes
    /// How many connections to keep to the API. Default: 8.
    public var maxConnections: Int = 8

    /// A configuration for `algorithm` (`owner/name/version`), other settings default.
    public init(algorithm: String) {
        self.algorithm = algorithm
    }
}

/// An algorithm behind an Algorithmia-style API: `POST {base}/v1/algo/owner/name/version?timeout=S` with the
/// input (JSON, text or bytes, each with its content type). The answer envelope `{"result": …, "metadata": …}`
/// is an answer (output = result, metadata kept); `{"error": {"message": …}}` is a failure with that message.
public final class AlgorithmiaAlgorithm: Algorithm {
    public let name: String
    public let version: String?
    /// The call itself: a POST to `{base}/v1/algo/owner/name/version?timeout=S`.
    let http: HTTPAlgorithm

    /// Checks the base URL and the algorithm path, and creates the connection pool.
    public init(_ configuration: AlgorithmiaConfiguration) throws(AlgorithmConfigurationError) {
        if let error = AlgorithmConfigurationError(
            configuration.name ?? configuration.algorithm, configuration.problems())
        {
            throw error
        }
        let parts = configuration.algorithm.split(separator: "/")
        name = configuration.name ?? configuration.algorithm
        version = parts.count == 3 ? String(parts[2]) : nil
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let seconds = max(1, Int((Double(configuration.timeout.milliseconds) / 1000).rounded(.up)))
        var http = HTTPAlgorithmConfiguration(url: "\(base)/v1/algo/\(configuration.algorithm)?timeout=\(seconds)")
        http.name = name
        http.timeout = configuration.timeout
        http.maxAnswerBytes = configuration.maxAnswerBytes
        http.maxConnections = configuration.maxConnections
        if let key = configuration.apiKey { http.headers["Authorization"] = "Simple \(key)" }
        self.http = try HTTPAlgorithm(http)
    }

    public func call(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure> {
        let response: HTTPAlgorithm.Response
        switch await http.exchange(input) {
        case .success(let answered): response = answered
        case .failure(let failure): return .failure(failure)
        }
        let code = Int(response.status.code)
        let members = JSONSyntax.objectMembers(response.body)
        if let error = members?.first(where: { $0.name == "error" })?.value {
            let message =
                Self.errorMessage(Array(response.body[error])) ?? String(decoding: response.body[error], as: UTF8.self)
            if code >= 500 || code == 429 {
                return .failure(http.statusFailure(response, detail: http.redacted(message)))
            }
            return .failure(
                AlgorithmFailure(.algorithm, "\(name) reported an error: \(http.redacted(message))", statusCode: code))
        }
        guard (200..<300).contains(code) else { return .failure(http.statusFailure(response)) }
        guard let members, let result = members.first(where: { $0.name == "result" })?.value else {
            return http.validJSON(response).flatMap { _ in
                .failure(
                    AlgorithmFailure(
                        .invalidAnswer,
                        "answer from \(http.displayURL) has neither \"result\" nor \"error\""
                            + (http.excerpt(response.body).map { ": \($0)" } ?? "")))
            }
        }
        let metadata = members.first(where: { $0.name == "metadata" }).map {
            String(decoding: response.body[$0.value], as: UTF8.self)
        }
        return .success(
            AlgorithmAnswer(
                output: String(decoding: response.body[result], as: UTF8.self), metadata: metadata,
                statusCode: Int(response.status.code)))
    }

    /// `message` of an error object (or the error itself when it is a string).
    static func errorMessage(_ error: [UInt8]) -> String? {
        if let text = JSONSyntax.stringValue(error) { return text }
        return JSONSyntax.member("message", of: error).flatMap(JSONSyntax.stringValue)
    }

    public func shutdown() async {
        await http.shutdown()
    }
}
