import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueSupport
import Foundation

extension PipelineConfiguration {
    /// Everything wrong with these settings on their own, under their configuration keys (`pipeline.`, `batch.`,
    /// `retry.`, `circuit_breaker.`, `batch_messages.`, `split.`, `fan_out.`, `sideband.`, `kafka.dead_letter_topic`).
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if concurrency < 1 { problems.append(FieldProblem("pipeline.concurrency", "must be at least 1")) }
        if concurrencyMin < 1 || concurrencyMax < concurrencyMin {
            problems.append(
                FieldProblem(
                    "pipeline.concurrency_max", "needs 1 <= pipeline.concurrency_min <= pipeline.concurrency_max"))
        }
        if maxInputBytes < 1 { problems.append(FieldProblem("pipeline.max_input_bytes", "must be at least 1")) }
        for name in passHeaders where reservedHeaderNames.contains(name.lowercased()) || name.isEmpty {
            problems.append(
                FieldProblem(
                    "pipeline.pass_headers",
                    "\"\(name)\" cannot be passed on: it describes the request itself or is algoqueue's own "
                        + "(the key goes as X-Algoqueue-Key)"))
        }
        let named = [
            ("kafka.dead_letter_topic", deadLetterTopic), ("split.topic", split.topic),
            ("split.completion_topic", split.completionTopic),
        ]
        for case (let key, let topic?) in named {
            if let problem = TopicName.problem(topic) { problems.append(FieldProblem(key, problem)) }
        }
        if batch.maxItems < 1 {
            problems.append(FieldProblem("batch.max_items", "must be at least 1 (1 turns micro-batching off)"))
        }
        if batch.enabled, ordering != .unordered {
            problems.append(FieldProblem("batch.max_items", "micro-batches need pipeline.ordering: unordered"))
        }
        if retry.maxAttempts < 1 {
            problems.append(FieldProblem("retry.max_attempts", "must be at least 1 (1 means no retries)"))
        }
        if retry.initialBackoff > retry.maxBackoff {
            problems.append(FieldProblem("retry.initial_backoff", "must not be above retry.max_backoff"))
        }
        if maxOutboxRows < 1 { problems.append(FieldProblem("results.max_outbox", "must be at least 1")) }
        if let topic = resultsTopic, topic == deadLetterTopic || topic == split.topic || topic == split.completionTopic
        {
            problems.append(
                FieldProblem("results.topic", "must be a topic of its own (\(topic) is used for something else)"))
        }
        if circuitBreaker.failureThreshold < 0 {
            problems.append(FieldProblem("circuit_breaker.failure_threshold", "must be 0 (off) or more"))
        }
        if let maxOpen = circuitBreaker.maxOpen, maxOpen < .zero {
            problems.append(FieldProblem("circuit_breaker.max_open", "must be a duration, 0s or off (never give up)"))
        }
        if let maxErrors, maxErrors < 0 {
            problems.append(FieldProblem("pipeline.max_errors", "must be 0 or more (got \(maxErrors))"))
        }
        if let maxErrorRatio, !(0...1).contains(maxErrorRatio) {
            problems.append(
                FieldProblem("pipeline.max_error_ratio", "must be a share between 0 and 1 (got \(maxErrorRatio))"))
        }
        return problems + patternProblems()
    }

    /// Problems with batch messages, splitting, fan-out and sideband settings.
    func patternProblems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if batchMessages.maxItems < 1 {
            problems.append(FieldProblem("batch_messages.max_items", "must be at least 1"))
        }
        if batchMessages.mode != .off, batch.enabled {
            problems.append(
                FieldProblem(
                    "batch_messages.mode",
                    "batch messages and micro-batches (batch.max_items > 1) do not mix: choose one"))
        }
        if split.maxItems < 0 { problems.append(FieldProblem("split.max_items", "must be 0 (no splitting) or more")) }
        if split.enabled, batchMessages.mode == .off {
            problems.append(
                FieldProblem(
                    "split.max_items", "splitting needs batch messages: set batch_messages.mode to auto or required"))
        }
        if let topic = split.topic, topic == deadLetterTopic {
            problems.append(FieldProblem("split.topic", "must not be the dead-letter topic"))
        }
        if fanOut.failFast, batch.enabled {
            problems.append(FieldProblem("fan_out.fail_fast", "does not apply to micro-batches (batch.max_items > 1)"))
        }
        var isDirectory: ObjCBool = false
        if let directory = sideband.inputDirectory,
            !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue
        {
            problems.append(FieldProblem("sideband.input_dir", "\(directory) is not a directory"))
        }
        if let directory = sideband.outputDirectory {
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                problems.append(FieldProblem("sideband.output_dir", "\(directory) is not a directory"))
            } else if !FileManager.default.isWritableFile(atPath: directory) {
                problems.append(FieldProblem("sideband.output_dir", "\(directory) is not writable"))
            }
        }
        if sideband.maxInlineOutputBytes < 0 {
            problems.append(FieldProblem("sideband.max_inline_output_bytes", "must be 0 or more"))
        }
        return problems
    }
}
