import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport

/// A row of a micro-batch and the index of its message in the batch.
typealias BatchRow = (index: Int, row: ResultRow)

extension InputProcessor {
    /// The rows of a micro-batch, one list per message (a row per algorithm), or nil when a stop cancelled it.
    /// Bad inputs get their error rows without a call; the others go to each algorithm in one call as a JSON
    /// list, whose answer must be a list of as many results, in order. Any other answer gives each of them an
    /// error row saying why.
    func processBatch(_ messages: [KafkaMessage]) async -> [[ResultRow]]? {
        let clock = ContinuousClock()
        let start = clock.now
        // One base row per message; a message's rows are filled in once known (each row is a copy of its base).
        let bases = baseRows(messages)
        var rows: [[ResultRow]] = Array(repeating: [], count: messages.count)
        var inputs: [(index: Int, input: AlgorithmInput)] = []
        inputs.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            switch decoder.decode(message, key: bases[index].key, valueIsText: bases[index].input != nil) {
            case .invalid(let reason): rows[index] = errorRows(bases[index], reason)
            case .input(let input):
                if let json = input.jsonValue {
                    inputs.append((index, AlgorithmInput(json: json, key: input.key, source: input.source)))
                } else {
                    rows[index] = errorRows(
                        bases[index],
                        "binary inputs cannot go in a micro-batch (a JSON list); turn batch.max_items down to 1")
                }
            }
        }
        if !inputs.isEmpty {
            let entries = inputs
            var answered = await withTaskGroup(of: (Int, [BatchRow]?).self) { group in
                for (position, target) in targets.enumerated() {
                    group.addTask { (position, await self.batchRows(target, entries, bases: bases, priorAttempts: 0)) }
                }
                var answered: [[BatchRow]?] = Array(repeating: nil, count: targets.count)
                for await (position, targetRows) in group { answered[position] = targetRows }
                return answered
            }
            guard answered.allSatisfy({ $0 != nil }), !Task.isCancelled else { return nil }
            // Moved out of the answers, algorithm by algorithm (each message's rows in the algorithms' order), not
            // copied: a copy retains every string of the row.
            for position in answered.indices {
                var targetRows = answered[position].take()!
                while let (index, row) = targetRows.popLast() { rows[index].append(row) }
            }
        }
        let elapsed = (clock.now - start).seconds * 1000
        for index in rows.indices {
            for position in rows[index].indices { rows[index][position].durationMilliseconds = elapsed }
        }
        if let deadLetters {
            for (index, messageRows) in rows.enumerated() {
                guard let failed = messageRows.first(where: { $0.status == .error }) else { continue }
                guard await deadLetters.publish(messages[index], row: failed) else { return nil }
            }
        }
        return rows
    }

    /// The rows of `entries` (message index → input) from `target`, called with them as one JSON list. A batch that
    /// fails as a whole (an error, or an answer that is not a list of as many results) is split in halves and each
    /// half called again (bisected), until the inputs that make it fail are alone and get error rows; every call
    /// an input was part of counts as one of its attempts. The answer may fail single inputs (see ``BatchAnswer``):
    /// those inputs get error rows, the others ok rows, with no second call. Nil when a stop came first.
    ///
    /// One row per entry, each with its message index, in the entries' order.
    func batchRows(
        _ target: Target, _ entries: [(index: Int, input: AlgorithmInput)], bases: [ResultRow], priorAttempts: Int
    ) async -> [BatchRow]? {
        guard let (outcome, input) = await batchCall(target, entries), let result = outcome.result else { return nil }
        let attempts = priorAttempts + outcome.attempts
        let failure: Result<AlgorithmAnswer, AlgorithmFailure>
        switch result {
        case .success(let answer):
            switch BatchAnswer.items(Array(answer.output.utf8), ids: input.itemIDs) {
            case .success(let items):
                var rows: [BatchRow] = []
                rows.reserveCapacity(entries.count)
                for (entry, item) in zip(entries, items) {
                    switch item {
                    case .error(let message):
                        var row = bases[entry.index]
                        row.algorithm = target.algorithm.name
                        row.algorithmVersion = target.algorithm.version
                        row.attempts = attempts
                        row.error = message
                        row.httpStatus = answer.statusCode
                        rows.append((entry.index, row))
                    case .output(let bytes):
                        var itemAnswer = answer
                        itemAnswer.output = String(decoding: bytes, as: UTF8.self)
                        rows.append(
                            (
                                entry.index,
                                await row(
                                    bases[entry.index], target, .success(itemAnswer), attempts: attempts,
                                    milliseconds: 0)
                            ))
                    }
                }
                return rows
            case .failure(let invalid):
                failure = .failure(invalid)
            }
        case .failure:
            failure = result
        }
        // Refused whole in a way a single input may be too (an answer that breaks the protocol, a 4xx): one input
        // alone tells whether it is the endpoint's contract. If so every input gets that error, after two calls,
        // instead of a bisection down to single inputs that would fail the same way.
        if entries.count > 1, case .failure(let whole) = failure, Self.mayBeContract(whole) {
            guard let alone = await batchCall(target, [entries[0]]) else { return nil }
            if case .failure(let single)? = alone.outcome.result, single.kind == whole.kind,
                single.statusCode == whole.statusCode
            {
                return await contractRows(target, entries, whole, attempts: attempts + alone.outcome.attempts, bases)
            }
        }
        guard entries.count > 1 else {
            var row = await row(bases[entries[0].index], target, failure, attempts: outcome.attempts, milliseconds: 0)
            row.attempts = attempts
            if priorAttempts > 0, let error = row.error {
                row.error = error + " (alone, after its micro-batch failed; \(attempts) calls included it)"
            }
            return [(entries[0].index, row)]
        }
        // Bisect: each half is called on its own, both at once.
        let middle = entries.count / 2
        async let first = batchRows(target, Array(entries[..<middle]), bases: bases, priorAttempts: attempts)
        async let second = batchRows(target, Array(entries[middle...]), bases: bases, priorAttempts: attempts)
        guard let firstRows = await first, let secondRows = await second else { return nil }
        return firstRows + secondRows
    }

    /// One call of `target` with `entries` as a JSON list (their ids in `itemIDs`); nil when a stop came first.
    func batchCall(_ target: Target, _ entries: [(index: Int, input: AlgorithmInput)]) async -> (
        outcome: CallOutcome, input: AlgorithmInput
    )? {
        var body: [UInt8] = []
        body.reserveCapacity(entries.reduce(0) { $0 + $1.input.bytes.count })
        for entry in entries { body += entry.input.bytes }
        let ranges = entries.reduce(into: [Range<Int>]()) { ranges, entry in
            let lower = ranges.last?.upperBound ?? 0
            ranges.append(lower..<(lower + entry.input.bytes.count))
        }
        let source = entries[0].input.source + (entries.count > 1 ? " +\(entries.count - 1)" : "")
        var input = AlgorithmInput(json: body.jsonList(ranges), source: source)
        input.itemIDs = entries.map(\.input.source)
        let outcome = await call(target, input)
        guard outcome.result != nil, !Task.isCancelled else { return nil }
        return (outcome, input)
    }

    /// Whether a failure of a whole micro-batch may be the endpoint's contract rather than its inputs': an answer
    /// that breaks the protocol, or a 4xx other than 429 (a request shape the endpoint refuses).
    static func mayBeContract(_ failure: AlgorithmFailure) -> Bool {
        failure.kind == .contract
            || failure.kind == .status && (400..<500).contains(failure.statusCode ?? 0)
                && failure.statusCode != 429
    }

    /// Every entry's error row when a micro-batch and one input alone were refused alike: the endpoint's contract.
    /// Counted against the circuit breaker, and said in the log once a minute with what was expected and what came.
    func contractRows(
        _ target: Target, _ entries: [(index: Int, input: AlgorithmInput)], _ failure: AlgorithmFailure,
        attempts: Int, _ bases: [ResultRow]
    ) async -> [BatchRow] {
        target.breaker.record(.failed(failure.message), CircuitPass(isProbe: false))
        let now = ContinuousClock.now
        let warn = target.contractWarned.withLock { last in
            guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
            last = now
            return true
        }
        if warn {
            logger.warning(
                "the endpoint refuses what algoqueue sends it: a micro-batch and a single input failed alike; check the URL and algorithm.protocol",
                metadata: ["algorithm": "\(target.algorithm.name)", "error": "\(failure.message)"])
        }
        var refused = failure
        refused.message +=
            " (a micro-batch of \(entries.count) and one input alone were refused alike: the endpoint's contract, not the inputs)"
        var rows: [BatchRow] = []
        for entry in entries {
            var row = await row(bases[entry.index], target, .failure(refused), attempts: attempts, milliseconds: 0)
            row.attempts = attempts
            rows.append((entry.index, row))
        }
        return rows
    }
}
