import AlgoqueueWriter

extension CompletedMessage {
    /// `work`'s message with no rows yet and its offset not to move: what is written when nothing (or not all)
    /// of it could be called.
    init(unfinished work: OrderingLanes.Work) {
        self.init(
            partition: work.message.topicPartition, generation: work.generation, offset: work.message.offset,
            byteCount: work.message.byteCount, rows: [], complete: false)
    }
}
