import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport

extension InputProcessor {
    /// The rows of a micro-batch, one list per message (a row per algorithm), or nil when a stop cancelled it.
    /// Bad inputs get their error rows without a call; the others go to each algorithm in one call as a JSON
    /// list, whose answer must be a list of as many results, in order. Any other answer gives each of them an
    /// error row saying why.
    func processBatch(_ messages: [KafkaMessage]) async -> [[ResultRow]]? {
        let clock = ContinuousClock()
        let start = clock.now
        var rows = messages.map { errorRows(baseRow($0), "") }
        var inputs: [(index: Int, input: AlgorithmInput)] = []
        for (index, message) in messages.enumerated() {
            switch decoder.decode(message) {
            case .invalid(let reason): rows[index] = errorRows(baseRow(message), reason)
            case .input(let input):
                if let json = input.jsonValue {
                    inputs.append((index, AlgorithmInput(json: json, key: input.key, source: input.source)))
                } else {
                    rows[index] = errorRows(
                        baseRow(message),
                        "binary inputs cannot go in a micro-batch (a JSON list); turn batch.max_items down to 1")
                }
            }
        }
        if !inputs.isEmpty {
            let body = inputs.reduce(into: [UInt8]()) { $0 += $1.input.bytes }
            let ranges = inputs.reduce(into: [Range<Int>]()) { ranges, entry in
                let lower = ranges.last?.upperBound ?? 0
                ranges.append(lower..<(lower + entry.input.bytes.count))
            }
            let list = body.jsonList(ranges)
            let source = inputs[0].input.source + (inputs.count > 1 ? " +\(inputs.count - 1)" : "")
            let outcomes = await withTaskGroup(of: (Int, CallOutcome).self) { group in
                for (position, target) in targets.enumerated() {
                    group.addTask { (position, await self.call(target, AlgorithmInput(json: list, source: source))) }
                }
                var outcomes: [Int: (Result<AlgorithmAnswer, AlgorithmFailure>, Int)] = [:]
                for await (position, outcome) in group {
                    if let result = outcome.result { outcomes[position] = (result, outcome.attempts) }
                }
                return outcomes
            }
            guard outcomes.count == targets.count, !Task.isCancelled else { return nil }
            for (position, target) in targets.enumerated() {
                let (result, attempts) = outcomes[position]!
                for entry in inputs { rows[entry.index][position].attempts = attempts }
                switch result {
                case .success(let answer):
                    let bytes = Array(answer.output.utf8)
                    let elements = JSONSyntax.arrayElements(bytes)
                    if let elements, elements.count == inputs.count {
                        for (index, entry) in inputs.enumerated() {
                            let single = AlgorithmAnswer(
                                output: String(decoding: bytes[elements[index]], as: UTF8.self))
                            rows[entry.index][position] = await row(
                                rows[entry.index][position], target, .success(single), attempts: attempts,
                                milliseconds: 0)
                        }
                    } else {
                        let got = elements.map { "a list of \($0.count)" } ?? "a JSON \(JSONSyntax.topLevelKind(bytes))"
                        for entry in inputs {
                            rows[entry.index][position].error =
                                "the batch answer must be a list of \(inputs.count) results, one per input in order (got \(got))"
                        }
                    }
                case .failure:
                    for entry in inputs {
                        rows[entry.index][position] = await row(
                            rows[entry.index][position], target, result, attempts: attempts, milliseconds: 0)
                    }
                }
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
}
