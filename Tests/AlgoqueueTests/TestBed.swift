import AlgoqueueKafka
import Foundation

/// What most end-to-end tests start from: a temporary directory, a development broker with one topic, and a
/// test endpoint. `cleanUp()` (in a `defer`) removes the directory and keeps the broker alive until then.
struct TestBed {
    let directory: TemporaryDirectory
    let broker: DevBroker
    let endpoint: TestEndpoint

    init(topic: String, partitions: Int, delay: Duration = .zero, hangFor: Duration = .seconds(5)) async throws {
        directory = try TemporaryDirectory()
        broker = try DevBroker(logger: testLogger())
        try broker.createTopic(topic, partitions: partitions)
        endpoint = try await TestEndpoint.start(delay: delay, hangFor: hangFor)
    }

    func cleanUp() {
        withExtendedLifetime(broker) {}
        directory.cleanUp()
    }
}
