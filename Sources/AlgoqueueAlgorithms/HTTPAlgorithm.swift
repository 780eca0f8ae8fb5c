import AlgoqueueSupport
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// How to call a plain HTTP JSON endpoint.
public struct HTTPAlgorithmConfiguration: Sendable {
    /// The name rows are stored under. Default: `http`.
    public var name: String = "http"
    /// An optional version stored with each row. Default: none.
    public var version: String?
    /// The endpoint; each input is POSTed to it as `application/json`.
    public var url: String
    /// Extra request headers (authorization, routing). Their values never reach logs or rows.
    public var headers: [String: String] = [:]
    /// How long one call may take, connect to last byte. Default: 300 seconds.
    public var timeout: Duration = CallLimits.defaultTimeout
    /// The largest answer accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = CallLimits.defaultMaxAnswerBytes
    /// How many connections to keep to the endpoint. Default: 8.
    public var maxConnections: Int = 8
    /// The request and answer shapes the endpoint speaks. Default: `raw` (each input as it is).
    public var modelProtocol: ModelProtocol = .raw
    /// What the protocols other than `raw` read (model, template, tensor, ...).
    public var protocolSettings = ModelProtocolSettings()
    /// For `https://`: a PEM file of the certificate authorities to trust instead of the system's (a private CA).
    /// Default: none (the system's trust store).
    public var tlsCAFile: String?
    /// For `https://` with mutual TLS: a PEM file holding the client's certificate (chain). Default: none.
    public var tlsCertificateFile: String?
    /// For `https://` with mutual TLS: a PEM file holding the client certificate's private key. Default: none.
    public var tlsKeyFile: String?

    /// A configuration for `url`, other settings default.
    public init(url: String) {
        self.url = url
    }
}

/// An algorithm behind an HTTP endpoint: POST the input as JSON, a 2xx JSON answer is the result.
public final class HTTPAlgorithm: Algorithm {
    public let name: String
    public let version: String?
    let configuration: HTTPAlgorithmConfiguration
    /// How calls travel: plain `http://` on algoqueue's own keep-alive pool over swift-nio's HTTP/1.1 codecs (the
    /// hot path: no per-call URL parsing, one hop per call); `https://` through AsyncHTTPClient (TLS, proxies).
    let transport: Transport

    enum Transport {
        /// `head` is every call's request line, made once: the response decoder is told it for each call. `start`
        /// is the request line and the fixed headers encoded, or why one of them cannot be sent (each call fails).
        case pool(HTTP1ConnectionPool, head: HTTPRequestHead, start: Result<ByteBuffer, HTTP1HeaderError>)
        case client(HTTPClient)
    }
    /// Every call's headers, those of each input added per call.
    let headers: HTTPCallHeaders
    /// The URL without credentials or query, safe to put in an error row.
    let displayURL: String
    /// For the Open Inference Protocol: the model's input tensors, from its metadata once read.
    let modelInputs = Locked<[OpenInferenceCodec.Tensor]?>(nil)

    /// Checks the URL and creates the connection pool.
    public init(_ configuration: HTTPAlgorithmConfiguration) throws(AlgorithmConfigurationError) {
        if let error = AlgorithmConfigurationError(configuration.name, configuration.problems()) { throw error }
        let url = URL(string: configuration.url)!
        name = configuration.name
        version = configuration.version
        self.configuration = configuration
        displayURL =
            "\(url.scheme?.lowercased() ?? "http")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")\(url.path)"
        if url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty {
            let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
            let path = components?.percentEncodedPath ?? ""
            let query = components?.percentEncodedQuery.map { "?\($0)" } ?? ""
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: (path.isEmpty ? "/" : path) + query)
            var builtIn = [
                (name: "Host", value: (host.contains(":") ? "[\(host)]" : host) + (url.port.map { ":\($0)" } ?? ""))
            ]
            // Credentials in the URL (`http://user:password@host/…`) become Basic authentication, as with curl.
            if let user = url.user(percentEncoded: false) {
                let password = url.password(percentEncoded: false) ?? ""
                builtIn.append(("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()))
            }
            let callHeaders = HTTPCallHeaders(
                builtIn: builtIn + [("Accept", "application/json")], configured: configuration.headers)
            headers = callHeaders
            transport = .pool(
                HTTP1ConnectionPool(
                    host: host, port: url.port ?? 80, maxConnections: configuration.maxConnections,
                    connectTimeout: .init(CallLimits.connectTimeout)),
                head: head,
                start: Result { () throws(HTTP1HeaderError) in
                    try HTTP1RequestBytes.start(uri: head.uri, headers: callHeaders.fixed)
                })
            return
        }
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.maxConnections
        clientConfiguration.timeout.connect = .init(CallLimits.connectTimeout)
        // A refused or failed connection fails the call at once; algoqueue's retry policy backs off and tries
        // again. Left on, the pool retries connecting until the call's timeout, so a dead endpoint would cost the
        // whole timeout per attempt.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.decompression = .enabled(limit: .none)
        clientConfiguration.tlsConfiguration = try Self.tls(configuration)
        headers = HTTPCallHeaders(builtIn: [("Accept", "application/json")], configured: configuration.headers)
        transport = .client(HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration))
    }

    /// The TLS settings for `https://`: the system's trust store, or the configured CA file; a client certificate
    /// and key for mutual TLS. A file that cannot be read is a configuration error naming the key.
    static func tls(_ configuration: HTTPAlgorithmConfiguration) throws(AlgorithmConfigurationError) -> TLSConfiguration
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        func load<T>(_ key: String, _ path: String, _ read: (String) throws -> T) throws(AlgorithmConfigurationError)
            -> T
        {
            do {
                return try read(path)
            } catch {
                throw AlgorithmConfigurationError(
                    "algorithm \(configuration.name): \(key): cannot read \(path) as PEM: \(error)")
            }
        }
        if let path = configuration.tlsCAFile {
            let authorities = try load("tls_ca_file", path) { try NIOSSLCertificate.fromPEMFile($0) }
            tls.trustRoots = .certificates(authorities)
        }
        if let path = configuration.tlsCertificateFile {
            let chain = try load("tls_cert_file", path) { try NIOSSLCertificate.fromPEMFile($0) }
            tls.certificateChain = chain.map { .certificate($0) }
        }
        if let path = configuration.tlsKeyFile {
            tls.privateKey = .privateKey(
                try load("tls_key_file", path) { try NIOSSLPrivateKey(file: $0, format: .pem) })
        }
        return tls
    }

    public func call(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure> {
        if configuration.modelProtocol != .raw { return await callSpeakingProtocol(input) }
        let response: Response
        switch await exchange(input) {
        case .success(let answered): response = answered
        case .failure(let failure): return .failure(failure)
        }
        guard (200..<300).contains(response.status.code) else { return .failure(statusFailure(response)) }
        return validJSON(response).map { AlgorithmAnswer(output: $0, statusCode: Int(response.status.code)) }
    }

    /// An HTTP answer: status, headers and the whole body.
    struct Response {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// POSTs `input` to the configured URL with the configured headers and timeout, and reads the whole answer
    /// (up to `maxAnswerBytes`), whatever its status.
    func exchange(_ input: AlgorithmInput) async -> Result<Response, AlgorithmFailure> {
        do {
            switch transport {
            case .pool(let pool, let head, let start):
                let bytes = try HTTP1RequestBytes.post(start: start.get(), headers: headers, input: input)
                let answer = try await pool.execute(
                    head: head, bytes: bytes,
                    maxAnswerBytes: configuration.maxAnswerBytes,
                    deadline: .now() + .milliseconds(configuration.timeout.milliseconds))
                return .success(
                    Response(
                        status: answer.head.status, headers: answer.head.headers,
                        body: Array(answer.body.readableBytesView)))
            case .client(let client):
                var request = HTTPClientRequest(url: configuration.url)
                request.method = .POST
                func add(_ name: String, _ value: String) throws(HTTP1HeaderError) {
                    try HTTP1RequestBytes.check(name: name, value: value)
                    request.headers.add(name: name, value: value)
                }
                for (name, value) in headers.fixed { try add(name, value) }
                try headers.forEachInputHeader(input, add)
                request.body = .bytes(ByteBuffer(bytes: input.bytes))
                let response = try await client.execute(
                    request, timeout: .milliseconds(configuration.timeout.milliseconds))
                let answer = try await response.body.collect(upTo: configuration.maxAnswerBytes)
                return .success(
                    Response(
                        status: response.status, headers: response.headers, body: Array(answer.readableBytesView)))
            }
        } catch is NIOTooManyBytesError {
            return .failure(answerTooLarge)
        } catch {
            return .failure(classify(error))
        }
    }

    var cancelled: AlgorithmFailure { AlgorithmFailure(.cancelled, "call to \(displayURL) was cancelled") }

    var timedOut: AlgorithmFailure {
        AlgorithmFailure(.timeout, "no answer from \(displayURL) within \(configuration.timeout.text) (timeout)")
    }

    var connectTimedOut: AlgorithmFailure {
        AlgorithmFailure(.transport, "could not connect to \(displayURL) within 10 seconds")
    }

    var closedEarly: AlgorithmFailure {
        AlgorithmFailure(.transport, "\(displayURL) closed the connection before answering")
    }

    var answerTooLarge: AlgorithmFailure {
        AlgorithmFailure(
            .invalidAnswer,
            "answer from \(displayURL) is larger than \(configuration.maxAnswerBytes) bytes "
                + "(algorithm.max_answer_bytes); raise it if such answers are expected")
    }

    /// The failure for a non-2xx answer: its status, an excerpt of its body, and any `Retry-After`.
    func statusFailure(_ response: Response, detail: String? = nil) -> AlgorithmFailure {
        AlgorithmFailure(
            .status,
            "HTTP \(response.status.code) \(response.status.reasonPhrase) from \(displayURL)"
                + (detail ?? excerpt(response.body)).map { ": \($0)" }.orEmpty,
            statusCode: Int(response.status.code),
            retryAfter: response.headers.first(name: "Retry-After").flatMap(Self.retryAfter))
    }

    /// The body as trimmed JSON text, or why it is not JSON.
    func validJSON(_ response: Response) -> Result<String, AlgorithmFailure> {
        do {
            try JSONSyntax.validate(response.body)
        } catch {
            let type = response.headers.first(name: "Content-Type") ?? "no content type"
            return .failure(
                AlgorithmFailure(
                    .invalidAnswer,
                    "answer from \(displayURL) is not JSON (HTTP \(response.status.code), \(type)): \(error)"
                        + excerpt(response.body).map { "; it began: \($0)" }.orEmpty,
                    statusCode: Int(response.status.code)))
        }
        return .success(JSONSyntax.trimmedText(response.body))
    }

    func classify(_ error: any Error) -> AlgorithmFailure {
        if Task.isCancelled || error is CancellationError { return cancelled }
        // The same failures from either transport (the plain-HTTP pool, AsyncHTTPClient for https) read alike.
        if let error = error as? HTTP1ExchangeError {
            switch error {
            case .timedOut: return timedOut
            case .connectTimedOut: return connectTimedOut
            case .closed: return closedEarly
            case .answerTooLarge: return answerTooLarge
            }
        }
        if let error = error as? HTTP1HeaderError {
            return AlgorithmFailure(
                .invalidRequest,
                "cannot call \(displayURL): header \(error.name) holds a line break or another control character")
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout: return timedOut
            case .connectTimeout: return connectTimedOut
            case .cancelled: return cancelled
            case .remoteConnectionClosed: return closedEarly
            default: return AlgorithmFailure(.transport, "call to \(displayURL) failed: \(error)")
            }
        }
        let text = "\(error)"
        if text.contains("connection refused") || text.contains("Connection refused") {
            return AlgorithmFailure(
                .transport, "could not connect to \(displayURL): connection refused (is the endpoint running?)")
        }
        return AlgorithmFailure(.transport, "call to \(displayURL) failed: \(text)")
    }

    /// At most 300 characters of a body, on one line, for an error message; any configured header value
    /// (an API key an endpoint echoes back) is replaced by `[redacted]`.
    func excerpt(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return nil }
        return redacted(String(decoding: bytes.prefix(4096), as: UTF8.self))
    }

    /// `text` on one line, at most 300 characters, with configured header values replaced by `[redacted]`.
    func redacted(_ text: String) -> String {
        var text = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            .trimmingCharacters(in: .whitespaces)
        for secret in secrets { text = text.replacingOccurrences(of: secret, with: "[redacted]") }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// Header values long enough to be credentials, and their last word (the key in `Bearer KEY`).
    var secrets: [String] {
        configuration.headers.values.flatMap { value -> [String] in
            let last = value.split(separator: " ").last.map(String.init) ?? value
            return [value, last].filter { $0.count >= 6 }
        }
    }

    /// `Retry-After` as seconds (`120`) or an HTTP date.
    static func retryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSinceNow) * 1000))
    }

    package func executor(forWorker worker: Int) -> (any TaskExecutor)? {
        if case .pool(let pool, _, _) = transport { return pool.executor(forWorker: worker) }
        return nil
    }

    public func shutdown() async {
        switch transport {
        case .pool(let pool, _, _): pool.shutdown()
        case .client(let client): try? await client.shutdown()
        }
    }
}

/// An algorithm definition that cannot work (bad URL, missing command, …).
public struct AlgorithmConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and how to fix it.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Optional where Wrapped == String {
    var orEmpty: String { self ?? "" }
}

extension HTTPAlgorithm: PlacesCallWorkers {}
