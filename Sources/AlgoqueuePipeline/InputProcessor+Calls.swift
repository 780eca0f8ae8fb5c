import AlgoqueueAlgorithms
import AlgoqueueStore
import AlgoqueueSupport

/// What the calls for one input to one algorithm came to.
struct CallOutcome: Sendable {
    /// The answer or the failure; nil when there is none: a stop came before a call could start, or the call was
    /// cancelled (a stop's deadline, fail-fast).
    var result: Result<AlgorithmAnswer, AlgorithmFailure>?
    /// Calls started, including one cancelled on the way.
    var attempts: Int
    /// SHA-256 of the input (hex), when the algorithm's answers are cached.
    var inputHash: String? = nil
    /// When the answer came from the cache: the row it came from, `topic/partition/offset/item`.
    var cachedFrom: String? = nil
}

/// The rows of one input (a row per algorithm), and whether they are all there.
struct InputRows: Sendable {
    var rows: [ResultRow]
    /// False when a stop left some algorithm uncalled or its call unfinished.
    var complete: Bool
}

extension InputProcessor {
    /// The rows of one input: a file reference resolved, then every algorithm called (fan-out) with one row
    /// each, except those named in `done` (their rows are in the store already). With `fan_out.fail_fast`, the
    /// first failure cancels the calls still running or waiting, whose rows say so.
    func callAll(_ given: AlgorithmInput, base: ResultRow, done: Set<String> = []) async -> InputRows {
        let clock = ContinuousClock()
        let start = clock.now
        let input: AlgorithmInput
        switch await sideband.resolve(given) {
        case .success(let resolved): input = resolved
        case .failure(let failure): return InputRows(rows: errorRows(base, failure.message), complete: true)
        }
        let wanted = targets.indices.filter { !done.contains(targets[$0].algorithm.name) }
        if wanted.count == 1 {
            let target = targets[wanted[0]]
            let outcome = await callOnce(target, input)
            guard let result = outcome.result else { return InputRows(rows: [], complete: false) }
            var row = await row(
                base, target, result, attempts: outcome.attempts, milliseconds: (clock.now - start).seconds * 1000)
            (row.inputHash, row.cachedFrom) = (outcome.inputHash, outcome.cachedFrom)
            return InputRows(rows: [row], complete: true)
        }
        let failFast = fanOut.failFast
        var rows: [Int: ResultRow] = [:]
        var unanswered: [Int: Int] = [:]  // index → attempts of a call that gave no answer
        var firstFailure: (algorithm: String, message: String)?
        await withTaskGroup(of: (Int, CallOutcome, Double).self) { group in
            for index in wanted {
                group.addTask {
                    let outcome = await self.callOnce(self.targets[index], input)
                    return (index, outcome, (clock.now - start).seconds * 1000)
                }
            }
            for await (index, outcome, milliseconds) in group {
                guard let result = outcome.result else {
                    unanswered[index] = outcome.attempts
                    continue
                }
                var answered = await row(
                    base, targets[index], result, attempts: outcome.attempts, milliseconds: milliseconds)
                (answered.inputHash, answered.cachedFrom) = (outcome.inputHash, outcome.cachedFrom)
                rows[index] = answered
                if failFast, firstFailure == nil, case .failure(let failure) = result {
                    firstFailure = (targets[index].algorithm.name, failure.message)
                    group.cancelAll()
                }
            }
        }
        // Only the group was cancelled by a fail-fast; a cancelled task or a closed intake means a stop.
        let stopping = Task.isCancelled || (firstFailure == nil && !unanswered.isEmpty)
        var result = InputRows(rows: [], complete: !stopping)
        for index in wanted {
            if let row = rows[index] {
                result.rows.append(row)
            } else if let firstFailure, !stopping {
                var cancelled = errorRows(base, "")[index]
                cancelled.error =
                    "cancelled: \(firstFailure.algorithm) failed first for this input (fan_out.fail_fast): \(firstFailure.message)"
                cancelled.attempts = unanswered[index] ?? 0
                cancelled.durationMilliseconds = (clock.now - start).seconds * 1000
                result.rows.append(cancelled)
            }
        }
        return result
    }

    /// The rows of a batch message's items (each one input, numbered from `firstItem`), called in parallel
    /// or one after another in order. `done` names, per item, the algorithms whose rows are in the store already.
    func callItems(
        bytes: [UInt8], ranges: [Range<Int>], firstItem: Int, base: ResultRow,
        headers: [(name: String, value: String)] = [],
        done: [Int: Set<String>] = [:]
    ) async -> InputRows {
        let items = ranges.enumerated().map { (index: firstItem + $0.offset, range: $0.element) }
        let source = "\(base.topic)/\(base.partition)/\(base.offset)"
        let process = { @Sendable (item: (index: Int, range: Range<Int>)) async -> (Int, InputRows) in
            if self.intake.isClosed { return (item.index, InputRows(rows: [], complete: false)) }
            let json = Array(bytes[item.range])
            var itemBase = base
            itemBase.item = item.index
            itemBase.input = String(decoding: json, as: UTF8.self)
            itemBase.rawInput = nil
            itemBase.inputBytes = json.count
            if JSONSyntax.topLevelKind(json) == "null" {
                let rows = self.errorRows(itemBase, "item \(item.index) of the batch is JSON null; give an input")
                return (item.index, InputRows(rows: rows, complete: true))
            }
            var input = AlgorithmInput(json: json, key: base.key, source: "\(source)/\(item.index)")
            input.headers = headers
            return (item.index, await self.callAll(input, base: itemBase, done: done[item.index] ?? []))
        }
        var rowsByItem: [Int: [ResultRow]] = [:]
        var complete = true
        if batchMessages.parallel {
            await forEachConcurrently(items, limit: concurrency, process) { index, rows in
                rowsByItem[index] = rows.rows
                complete = complete && rows.complete
            }
        } else {
            for item in items {
                let (index, rows) = await process(item)
                rowsByItem[index] = rows.rows
                complete = rows.complete
                if !complete { break }
            }
        }
        return InputRows(rows: items.flatMap { rowsByItem[$0.index] ?? [] }, complete: complete)
    }

    /// With `algorithm.cache: input`: the `ok` answer the store already has for the same input from the same
    /// algorithm and version, without a call; otherwise (and without a cache) ``call(_:_:)``.
    func callOnce(_ target: Target, _ input: AlgorithmInput) async -> CallOutcome {
        guard target.cache, let store = cacheStore else { return await call(target, input) }
        let hash = InputHash.sha256(input.bytes)
        do {
            if let hit = try await store.cachedAnswer(
                algorithm: target.algorithm.name, version: target.algorithm.version, inputHash: hash),
                let output = hit.output
            {
                return CallOutcome(
                    result: .success(AlgorithmAnswer(output: output, metadata: hit.metadata)), attempts: 0,
                    inputHash: hash,
                    cachedFrom: "\(hit.topic)/\(hit.partition)/\(hit.offset)/\(hit.item)")
            }
        } catch {
            logger.warning("cannot look up a cached answer; calling the algorithm: \(error)")
        }
        var outcome = await call(target, input)
        outcome.inputHash = hash
        return outcome
    }

    /// Calls `target` until an answer, a failure that retrying cannot fix, or the retry budget is spent; each
    /// attempt holds one of the `pipeline.concurrency` call slots. Once the intake closes, no attempt starts.
    func call(_ target: Target, _ input: AlgorithmInput) async -> CallOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        // Failures that count against retry.max_attempts (a 429/503 does not).
        var budgetSpent = 0
        while true {
            guard let pass = await target.breaker.permit(intake) else { return CallOutcome(attempts: attempt) }
            // A call that ends with no outcome (a stop, a fail-fast cancel) tells the breaker so: if it was the
            // probe, the next call probes instead.
            func abandoned() -> CallOutcome {
                target.breaker.record(.abandoned, pass)
                return CallOutcome(attempts: attempt)
            }
            // The rate limit is waited for before a call slot is taken: waiting holds no slot and is no attempt.
            if let rate = target.rate {
                let waited = ContinuousClock.now
                guard await rate.acquire(intake) else { return abandoned() }
                let wait = ContinuousClock.now - waited
                if wait > .milliseconds(1) { metrics.rateLimitWait.recordNanoseconds(wait.nanoseconds) }
            }
            // A 429/503 with Retry-After pauses every call to the algorithm, not only this input's.
            if let until = target.pausedUntil.withLock({ $0 }), until > clock.now {
                guard await intake.sleep(for: until - clock.now) else { return abandoned() }
            }
            if let callSlots {
                guard await callSlots.acquire() else { return abandoned() }
            }
            guard !intake.isClosed, !Task.isCancelled else {
                callSlots?.release()
                return abandoned()
            }
            attempt += 1
            let call = health.callStarted()
            let started = clock.now
            let result = await target.algorithm.call(input)
            metrics.callDuration.recordNanoseconds((clock.now - started).nanoseconds)
            health.callFinished(call)
            callSlots?.release()
            guard case .failure(let failure) = result else {
                target.breaker.record(.succeeded, pass)
                adaptive?.record(throttled: false, seconds: (clock.now - started).seconds)
                return CallOutcome(result: result, attempts: attempt)
            }
            if failure.kind == .cancelled { return abandoned() }
            // The endpoint saying it is full (429, 503) is about load, not this input: it slows the algorithm and
            // does not use up the input's retries (the retry budget's time still bounds it).
            let full = failure.statusCode == 429 || failure.statusCode == 503
            if full || failure.kind == .timeout {
                adaptive?.record(throttled: true, seconds: (clock.now - started).seconds)
            }
            if full, let pause = failure.retryAfter {
                let until = clock.now + pause
                target.pausedUntil.withLock { $0 = max($0 ?? until, until) }
            }
            // Told when to come back: waiting it out is not a failed attempt of this input (without Retry-After, a
            // 429/503 counts like any error, and a 503 that never ends opens the circuit).
            let toldToWait = full && failure.retryAfter != nil
            if toldToWait { budgetSpent -= 1 }
            budgetSpent += 1
            let retryable = retry.isRetryable(failure)
            // An answer that breaks the protocol is not retried, but says the endpoint is not what it should be.
            let endpointAtFault = (retryable && !toldToWait) || failure.kind == .contract
            target.breaker.record(endpointAtFault ? .failed(failure.message) : .succeeded, pass)
            guard retryable, budgetSpent < retry.maxAttempts else {
                return CallOutcome(result: result, attempts: attempt)
            }
            let delay = retry.delay(afterAttempt: max(1, budgetSpent), retryAfter: failure.retryAfter)
            guard clock.now - start + delay < retry.maxElapsed else {
                var late = failure
                late.message += " (retry budget of \(retry.maxElapsed.text) spent)"
                return CallOutcome(result: .failure(late), attempts: attempt)
            }
            statistics.update { $0.retried += 1 }
            logger.debug(
                "retrying in \(delay.text)",
                metadata: [
                    "source": "\(input.source)", "algorithm": "\(target.algorithm.name)", "attempt": "\(attempt)",
                    "error": "\(failure.message)",
                ])
            guard await intake.sleep(for: delay) else { return CallOutcome(attempts: attempt) }
        }
    }
}
