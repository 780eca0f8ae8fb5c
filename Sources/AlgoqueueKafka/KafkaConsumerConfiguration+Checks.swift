import AlgoqueueSupport

extension KafkaConsumerConfiguration {
    /// Everything wrong with these settings on their own, under the `kafka.` keys, checked without connecting.
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if brokers.isEmpty || brokers.contains(where: { !$0.contains(":") }) {
            problems.append(FieldProblem("kafka.brokers", "give brokers as host:port (got \(brokers))"))
        }
        if topics.isEmpty || topics.contains(where: \.isEmpty) {
            problems.append(FieldProblem("kafka.topics", "name at least one topic to consume"))
        }
        for topic in topics where !topic.isEmpty {
            if let problem = TopicName.problem(topic) { problems.append(FieldProblem("kafka.topics", problem)) }
        }
        if groupID.isEmpty { problems.append(FieldProblem("kafka.group", "the consumer group must not be empty")) }
        for message in propertyProblems() { problems.append(FieldProblem("kafka.properties", message)) }
        return problems
    }
}
