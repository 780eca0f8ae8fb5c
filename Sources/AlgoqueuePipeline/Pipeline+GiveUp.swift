import AlgoqueueSupport

extension Pipeline {
    /// For a job (or a service with `circuit_breaker.max_open` set): once a second, whether an algorithm cannot be
    /// waited for any longer, because its circuit has stayed open beyond `max_open` or its worker command keeps dying
    /// before its first answer (a job only). Then it records why in `dispatch.givenUp` and closes the intake: the
    /// dispatch loop ends even while it waits for room for a message, and the calls waiting for the circuit end
    /// without rows (their inputs are consumed again by the next run).
    func watchForGivingUp(_ dispatch: Dispatch) async {
        let limit = configuration.circuitBreaker.maxOpenInForce(untilIdle: configuration.untilIdle)
        guard limit != nil || configuration.untilIdle else { return }
        while !Task.isCancelled, !dispatch.intake.isClosed {
            try? await Task.sleep(for: .seconds(1))
            guard let stop = Self.reasonToGiveUp(dispatch.processor.targets, limit: limit, job: configuration.untilIdle)
            else { continue }
            dispatch.givenUp.withLock { $0 = stop }
            dispatch.intake.close()
            return
        }
    }

    /// Why the run cannot go on with `targets`: a circuit open for `limit` or longer, or (for a `job`) a worker
    /// command that cannot start.
    static func reasonToGiveUp(_ targets: [Target], limit: Duration?, job: Bool) -> PipelineError? {
        let now = ContinuousClock.now
        for target in targets {
            if job, let reason = target.algorithm.configurationFailure {
                return PipelineError(
                    .configuration,
                    "algorithm \(target.algorithm.name): \(reason). Stopped: what finished is written and committed")
            }
            guard let limit, let spell = target.breaker.openSpell(now: now), spell.duration >= limit else { continue }
            return PipelineError(
                .unavailable,
                "algorithm \(target.algorithm.name): the circuit stayed open for "
                    + "\(Duration.seconds(Int(spell.duration.seconds.rounded())).text) "
                    + "(circuit_breaker.max_open \(limit.text)); the endpoint keeps failing with: "
                    + "\(spell.lastFailure ?? "no answer"). Stopped: what finished is written and committed")
        }
        return nil
    }
}
