import CRdKafka

/// Builds an `rd_kafka_conf_t` from properties. The caller owns the result until it hands it to `rd_kafka_new`.
enum RdKafkaConfig {
    /// Property names whose values must never appear in an error message or a log line.
    static func isSecret(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.contains("password") || lowered.contains("secret") || lowered.hasSuffix("jaas.config")
            || lowered.hasSuffix("key.pem") || lowered.hasSuffix("certificate.pem")
    }

    /// Creates a configuration object, failing with a message that names the bad property (never its secret value).
    static func make(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.configuration, "could not allocate a librdkafka configuration")
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(conf, name, value, &errorBuffer, errorBuffer.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = String(
                    decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let shown = isSecret(name) ? "(hidden)" : "\"\(value)\""
                throw KafkaError(.configuration, "Kafka property \(name) = \(shown) was refused: \(reason)")
            }
        }
        return conf
    }

    /// Throws what librdkafka says of one property (``make(_:)``'s message), building nothing.
    static func check(_ property: (String, String)) throws(KafkaError) {
        rd_kafka_conf_destroy(try make([property]))
    }

    /// The text of a librdkafka error code.
    static func describe(_ code: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2str(code))
    }
}
