import CRdKafka

/// The producer's side of librdkafka: queueing a record with its delivery riding along as the message opaque, the
/// delivery reports, the local queue, flushing. ``KafkaProducer`` above it sees records and deliveries only.
extension RdKafkaClient {
    /// What came of queueing a record.
    enum ProduceOutcome {
        case queued
        /// librdkafka's local queue is full: try again once deliveries came back.
        case full
        case refused(KafkaError)
    }

    /// Sets the delivery report callback on a producer's configuration (``RdKafkaClient/init`` `configure`).
    static func reportDeliveries(_ conf: OpaquePointer) {
        rd_kafka_conf_set_dr_msg_cb(conf, rdKafkaDeliveryCallback)
    }

    /// Queues `record`; its delivery report resolves `delivery`.
    func produce(_ record: KafkaRecord, delivery: PendingDelivery) -> ProduceOutcome {
        // The delivery itself rides with the message (one reference, given back by the delivery report).
        let opaque = Unmanaged.passRetained(delivery).toOpaque()
        let code = produce(record, opaque: opaque)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR { return .queued }
        Unmanaged<PendingDelivery>.fromOpaque(opaque).release()
        if code == RD_KAFKA_RESP_ERR__QUEUE_FULL { return .full }
        return .refused(
            KafkaError(
                .delivery, "could not produce to \(record.topic): \(RdKafkaConfig.describe(code))",
                rdkafkaCode: Int(code.rawValue)))
    }

    private func produce(_ record: KafkaRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                if let value = header.value {
                    value.withUnsafeBytes { bytes in
                        _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let partition = record.partition ?? RD_KAFKA_PARTITION_UA
        let produce = { (value: UnsafeRawBufferPointer?) -> rd_kafka_resp_err_t in
            guard let key = record.key else {
                return CRdKafka_produce(
                    self.handle, record.topic, partition, nil, 0, value?.baseAddress, value?.count ?? 0, headers,
                    opaque)
            }
            return key.withUnsafeBytes { key in
                // An empty key still needs a non-null pointer to be an empty key rather than no key.
                CRdKafka_produce(
                    self.handle, record.topic, partition, key.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                    key.count, value?.baseAddress, value?.count ?? 0, headers, opaque)
            }
        }
        let code: rd_kafka_resp_err_t
        if let value = record.value {
            // An empty value likewise needs a non-null pointer, or it would be produced as null.
            code = value.withUnsafeBytes { bytes in
                produce(
                    bytes.baseAddress == nil
                        ? UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: 1), count: 0) : bytes)
            }
        } else {
            code = produce(nil)
        }
        if code != RD_KAFKA_RESP_ERR_NO_ERROR, let headers {
            rd_kafka_headers_destroy(headers)
        }
        return code
    }

    /// Records queued or in flight: neither acknowledged by the broker nor failed yet.
    var outqueueLength: Int { Int(rd_kafka_outq_len(handle)) }

    /// Serves delivery reports and other events for up to `milliseconds`; how many it served.
    func serveEvents(milliseconds: Int32) -> Int {
        Int(rd_kafka_poll(handle, milliseconds))
    }

    /// Waits up to `milliseconds` for every queued record's delivery; fails the rest (their reports say so).
    func flushOrPurge(milliseconds: Int32) {
        if rd_kafka_flush(handle, milliseconds) != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            rd_kafka_poll(handle, 100)
        }
    }

    /// Nil once a broker answered a metadata request within `milliseconds`; else why not.
    func brokerAnswers(milliseconds: Int32) -> (code: Int, reason: String)? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let result = rd_kafka_metadata(handle, 0, nil, &metadata, milliseconds)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        guard result != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return (Int(result.rawValue), RdKafkaConfig.describe(result))
    }
}

private let rdKafkaDeliveryCallback:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, message, _ in
        guard let message, let opaque = message.pointee._private else { return }
        let waiter = Unmanaged<PendingDelivery>.fromOpaque(opaque).takeRetainedValue()
        let raw = message.pointee
        let topic = raw.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        if raw.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            waiter.resolve(.success(KafkaDelivery(topic: topic, partition: raw.partition, offset: raw.offset)))
        } else {
            waiter.resolve(
                .failure(
                    KafkaError(
                        .delivery, "message to \(topic) was not delivered: \(RdKafkaConfig.describe(raw.err))",
                        rdkafkaCode: Int(raw.err.rawValue))))
        }
    }
