import AlgoqueueSupport
import Testing

@testable import AlgoqueueKafka

@Suite("Kafka clients let go")
struct ClientDestroyTests {
    @Test("a client let go is destroyed on a blocking thread; its callbacks' context lives until the destroy ends")
    func destroyedOffTheReleasingThread() throws {
        weak var released: RdKafkaCallbackContext?
        for kind in [RdKafkaClient.Kind.producer, .consumer] {
            do {
                let context = RdKafkaCallbackContext(logger: testLogger())
                released = context
                var properties = [("bootstrap.servers", "127.0.0.1:9")]
                if kind == .consumer { properties.append(("group.id", "destroyed")) }
                _ = try RdKafkaClient(kind: kind, properties: properties, context: context)
            }
            // The client is gone; the context is held by the destroy, if it is still under way, and by nothing after.
            #expect(RdKafkaClient.waitForDestroys(within: .seconds(30)))
            #expect(released == nil)
        }
    }
}
