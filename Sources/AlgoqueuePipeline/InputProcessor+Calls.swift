import AlgoqueueAlgorithms
import AlgoqueueStore
import AlgoqueueSupport

extension InputProcessor {
    typealias Outcome = (Result<AlgorithmAnswer, AlgorithmFailure>, Int)

    /// The rows of one input: a file reference resolved, then every algorithm called (fan-out) with one row
    /// each. With `fan_out.fail_fast`, the first failure cancels the calls still running or waiting, whose rows
    /// say so. Nil when a stop cancelled the work.
    func callAll(_ given: AlgorithmInput, base: ResultRow) async -> [ResultRow]? {
        let clock = ContinuousClock()
        let start = clock.now
        let input: AlgorithmInput
        switch sideband.resolve(given) {
        case .success(let resolved): input = resolved
        case .failure(let failure): return errorRows(base, failure.message)
        }
        if targets.count == 1 {
            guard let outcome = await call(targets[0], input) else { return nil }
            return [row(base, targets[0], outcome, milliseconds: (clock.now - start).seconds * 1000)]
        }
        let failFast = fanOut.failFast
        var rows: [ResultRow?] = Array(repeating: nil, count: targets.count)
        var firstFailure: (algorithm: String, message: String)?
        await withTaskGroup(of: (Int, Outcome?, Double).self) { group in
            for (index, target) in targets.enumerated() {
                group.addTask {
                    let outcome = await self.call(target, input)
                    return (index, outcome, (clock.now - start).seconds * 1000)
                }
            }
            for await (index, outcome, milliseconds) in group {
                guard let outcome else { continue }
                rows[index] = row(base, targets[index], outcome, milliseconds: milliseconds)
                if failFast, firstFailure == nil, case .failure(let failure) = outcome.0 {
                    firstFailure = (targets[index].algorithm.name, failure.message)
                    group.cancelAll()
                }
            }
        }
        // Only the group was cancelled by a fail-fast; a cancelled task means the service is stopping.
        if Task.isCancelled { return nil }
        var result: [ResultRow] = []
        for (index, row) in rows.enumerated() {
            if let row {
                result.append(row)
            } else if let firstFailure {
                var cancelled = errorRows(base, "")[index]
                cancelled.error = "cancelled: \(firstFailure.algorithm) failed first for this input (fan_out.fail_fast): \(firstFailure.message)"
                cancelled.durationMilliseconds = (clock.now - start).seconds * 1000
                result.append(cancelled)
            } else {
                return nil
            }
        }
        return result
    }

    /// The rows of a batch message's items (each one input, numbered from `firstItem`), called in parallel
    /// or one after another in order. Nil when a stop cancelled the work.
    func callItems(bytes: [UInt8], ranges: [Range<Int>], firstItem: Int, base: ResultRow) async -> [ResultRow]? {
        let items = ranges.enumerated().map { (index: firstItem + $0.offset, range: $0.element) }
        let source = "\(base.topic)/\(base.partition)/\(base.offset)"
        let process = { @Sendable (item: (index: Int, range: Range<Int>)) async -> (Int, [ResultRow]?) in
            let json = Array(bytes[item.range])
            var itemBase = base
            itemBase.item = item.index
            itemBase.input = String(decoding: json, as: UTF8.self)
            itemBase.inputBytes = json.count
            if JSONSyntax.topLevelKind(json) == "null" {
                return (item.index, self.errorRows(itemBase, "item \(item.index) of the batch is JSON null; give an input"))
            }
            let input = AlgorithmInput(json: json, key: base.key, source: "\(source)/\(item.index)")
            return (item.index, await self.callAll(input, base: itemBase))
        }
        var rowsByItem: [Int: [ResultRow]] = [:]
        var cancelled = false
        if batchMessages.parallel {
            await forEachConcurrently(items, limit: callLimit, process) { index, rows in
                if let rows { rowsByItem[index] = rows } else { cancelled = true }
            }
        } else {
            for item in items {
                let (index, rows) = await process(item)
                guard let rows else {
                    cancelled = true
                    break
                }
                rowsByItem[index] = rows
            }
        }
        guard !cancelled else { return nil }
        return items.flatMap { rowsByItem[$0.index] ?? [] }
    }

    /// Calls `target` until an answer, a failure that retrying cannot fix, or the retry budget is spent; each
    /// attempt holds one of the `pipeline.concurrency` call slots. Returns nil when cancelled.
    func call(_ target: Target, _ input: AlgorithmInput) async -> Outcome? {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        while true {
            do {
                try await target.breaker.permit()
            } catch {
                return nil
            }
            attempt += 1
            if let calls {
                await calls.acquire()
                if Task.isCancelled {
                    calls.release()
                    return nil
                }
            }
            let call = health.callStarted()
            let started = clock.now
            let result = await target.algorithm.call(input)
            metrics.callDuration.recordNanoseconds((clock.now - started).nanoseconds)
            health.callFinished(call)
            calls?.release()
            guard case .failure(let failure) = result else {
                target.breaker.record(failed: false)
                return (result, attempt)
            }
            if failure.kind == .cancelled { return nil }
            let retryable = retry.isRetryable(failure)
            target.breaker.record(failed: retryable)
            guard retryable, attempt < retry.maxAttempts else { return (result, attempt) }
            let delay = retry.delay(afterAttempt: attempt, retryAfter: failure.retryAfter)
            guard clock.now - start + delay < retry.maxElapsed else {
                var late = failure
                late.message += " (retry budget of \(retry.maxElapsed.text) spent)"
                return (.failure(late), attempt)
            }
            statistics.update { $0.retried += 1 }
            logger.debug(
                "retrying in \(delay.text)",
                metadata: [
                    "source": "\(input.source)", "algorithm": "\(target.algorithm.name)", "attempt": "\(attempt)",
                    "error": "\(failure.message)",
                ])
            do {
                try await Task.sleep(for: delay)
            } catch {
                return nil
            }
        }
    }
}
