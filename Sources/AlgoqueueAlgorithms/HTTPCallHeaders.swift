/// The headers of a call to an HTTP algorithm, in two parts: those every call sends, made once with the algorithm,
/// and those of one input. A configured header (credentials, routing) wins over a built-in or a passed header of the
/// same name, which is then not sent.
struct HTTPCallHeaders: Sendable {
    /// What every call sends: the built-in headers no configured one replaces, then the configured ones.
    let fixed: [(name: String, value: String)]
    /// The configured headers' names, lowercased.
    private let configured: Set<String>
    /// Whether each built-in header of one input is sent (false: a configured header of that name replaces it).
    private let sendsContentType: Bool
    private let sendsSource: Bool
    private let sendsKey: Bool
    private let sendsItemIDs: Bool

    init(builtIn: [(name: String, value: String)], configured: [String: String]) {
        let names = Set(configured.keys.map { $0.lowercased() })
        self.configured = names
        fixed = builtIn.filter { !names.contains($0.name.lowercased()) } + configured.map { ($0.key, $0.value) }
        sendsContentType = !names.contains("content-type")
        sendsSource = !names.contains("x-algoqueue-source")
        sendsKey = !names.contains("x-algoqueue-key")
        sendsItemIDs = !names.contains("x-algoqueue-item-ids")
    }

    /// Calls `body` with each header of `input`'s call that is not in `fixed`: its content type, source, key, item
    /// ids, and the message headers passed on (none with a name algoqueue or the configuration sets).
    func forEachInputHeader<E: Error>(
        _ input: AlgorithmInput, _ body: (_ name: String, _ value: String) throws(E) -> Void
    ) throws(E) {
        if sendsContentType { try body("Content-Type", input.contentType.mimeType) }
        if sendsSource, !input.source.isEmpty { try body("X-Algoqueue-Source", input.source) }
        if sendsKey, let key = input.key { try body("X-Algoqueue-Key", key) }
        if sendsItemIDs, !input.itemIDs.isEmpty {
            try body("X-Algoqueue-Item-Ids", input.itemIDs.joined(separator: ","))
        }
        for (name, value) in input.headers {
            let lowercased = name.lowercased()
            guard !reservedHeaderNames.contains(lowercased), !configured.contains(lowercased) else { continue }
            try body(name, value)
        }
    }
}
