import AlgoqueueAlgorithms
import AlgoqueueSupport

/// The algorithm module's configurations built from the settings: `run` creates algorithms from these, and the
/// problems `check-config` and `run` report are these configurations' own checks.
extension AlgorithmSettings {
    /// Kind `http` (or `builtin`, with the URL of the loopback server that serves it).
    public func httpConfiguration(url: String? = nil, maxConnections: Int) -> HTTPAlgorithmConfiguration {
        var configuration = HTTPAlgorithmConfiguration(url: url ?? self.url ?? "")
        configuration.name = effectiveName
        configuration.version = version
        configuration.headers = headers
        configuration.timeout = timeout
        configuration.maxAnswerBytes = maxAnswerBytes
        configuration.maxConnections = maxConnections
        configuration.tlsCAFile = tlsCAFile
        configuration.modelProtocol = modelProtocol
        configuration.protocolSettings = protocolSettings
        configuration.tlsCertificateFile = tlsCertificateFile
        configuration.tlsKeyFile = tlsKeyFile
        return configuration
    }

    /// Kind `algorithmia`, with the API key from `environment` or `api_key_file`.
    public func algorithmiaConfiguration(maxConnections: Int, environment: [String: String]) -> AlgorithmiaConfiguration
    {
        var configuration = AlgorithmiaConfiguration(algorithm: algo ?? "")
        configuration.name = name
        if let url { configuration.baseURL = url }
        configuration.apiKey = apiKey(environment: environment)
        configuration.timeout = timeout
        configuration.maxAnswerBytes = maxAnswerBytes
        configuration.maxConnections = maxConnections
        return configuration
    }

    /// Kind `process`.
    public func processConfiguration() -> ProcessPoolConfiguration {
        var configuration = ProcessPoolConfiguration(command: command)
        configuration.name = effectiveName
        configuration.version = version
        configuration.workers = workers
        configuration.startupTimeout = startupTimeout
        configuration.timeout = timeout
        configuration.maxAnswerBytes = maxAnswerBytes
        return configuration
    }

    /// Problems with this algorithm's settings, under `prefix` (`algorithm` or `algorithms[N]`).
    func problems(_ prefix: String, environment: [String: String]) -> [ConfigProblem] {
        var problems: [FieldProblem] = []
        switch kind {
        case .http:
            if url == nil {
                return [ConfigProblem("\(prefix).url", "no algorithm to call: give --url or \(prefix).url")]
            }
            problems = httpConfiguration(maxConnections: 1).problems()
        case .builtin:
            if effectiveName != "text-stats" {
                problems.append(FieldProblem("name", "the built-in algorithm is text-stats"))
            }
            problems += httpConfiguration(url: "http://127.0.0.1/", maxConnections: 1).problems()
        case .algorithmia:
            problems = algorithmiaConfiguration(maxConnections: 1, environment: environment).problems()
            if apiKey(environment: environment) == nil {
                problems.append(
                    FieldProblem(
                        "api_key_env",
                        "no API key: set the environment variable \(apiKeyEnv)"
                            + (apiKeyFile.map { " or put the key in \($0) (\(prefix).api_key_file)" }
                                ?? " or give \(prefix).api_key_file")))
            }
        case .process:
            problems = processConfiguration().problems(path: environment["PATH"])
        }
        if rateLimit < 0 || !rateLimit.isFinite {
            problems.append(FieldProblem("rate_limit", "must be 0 (no limit) or calls per second, such as 200 or 0.5"))
        }
        if rateBurst < 0 {
            problems.append(FieldProblem("rate_burst", "must be 0 (a tenth of a second's worth) or more"))
        }
        return problems.map { ConfigProblem("\(prefix).\($0.field)", $0.message) }
    }
}
