import AlgoqueueKafka
import AlgoqueueSupport
import Foundation
import Logging
import Testing

/// A logger for tests: warnings and above to stderr, so failures explain themselves.
func testLogger(_ label: String = "test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel =
        ProcessInfo.processInfo.environment["ALGOQUEUE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}

/// A fresh temporary directory, removed by the caller with `cleanUp`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let path = NSTemporaryDirectory() + "algoqueue-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Collects events from a consumer until `done` says so or the time runs out.
func collect(
    _ events: AsyncStream<KafkaConsumerEvent>, within timeout: Duration,
    until done: @escaping @Sendable ([KafkaConsumerEvent]) -> Bool
) async -> [KafkaConsumerEvent] {
    await withTaskGroup(of: [KafkaConsumerEvent]?.self) { group in
        group.addTask {
            var seen: [KafkaConsumerEvent] = []
            for await event in events {
                seen.append(event)
                if done(seen) { return seen }
            }
            return seen
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        return first ?? []
    }
}

/// Produces `values` to `topic`, one message each, and waits for every delivery.
func produce(
    _ values: [[UInt8]?], to topic: String, brokers: String, keys: [String?]? = nil, partition: Int32? = nil,
    properties: [String: String] = [:], headers: [KafkaHeader] = []
) async throws -> [KafkaDelivery] {
    var configuration = KafkaProducerConfiguration()
    configuration.brokers = [brokers]
    configuration.properties = properties
    let producer = try KafkaProducer(configuration: configuration, logger: testLogger())
    var deliveries: [KafkaDelivery] = []
    for (index, value) in values.enumerated() {
        let key = keys?[index].map { Array($0.utf8) }
        deliveries.append(
            try await producer.send(
                KafkaRecord(topic: topic, partition: partition, key: key, value: value, headers: headers)))
    }
    await producer.close()
    return deliveries
}

/// Runs a command line program and returns its exit status and standard output. The wait happens on a thread
/// of its own: the concurrency pool has one thread per core (two here), and a chromium or python run holding
/// two of them would stall every other test's endpoint and pipeline in this process until it ends.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: String? = nil) async throws -> (
    status: Int32, output: String, error: String
) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try runProgramWaiting(path, arguments, input: input) })
        }.start()
    }
}

private func runProgramWaiting(_ path: String, _ arguments: [String], input: String?) throws -> (
    status: Int32, output: String, error: String
) {
    var inputPipe: [Int32] = [0, 0]
    var outputPipe: [Int32] = [0, 0]
    var errorPipe: [Int32] = [0, 0]
    guard pipe(&inputPipe) == 0, pipe(&outputPipe) == 0, pipe(&errorPipe) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    // Only this child gets these (through dup2); a child another test starts meanwhile does not.
    for descriptor in inputPipe + outputPipe + errorPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    defer { for descriptor in [inputPipe[1], outputPipe[0], errorPipe[0]] { close(descriptor) } }
    let pid: pid_t
    do {
        defer { for descriptor in [inputPipe[0], outputPipe[1], errorPipe[1]] { close(descriptor) } }
        pid = try spawnChild(
            [path] + arguments, input: .descriptor(inputPipe[0]), output: .descriptor(outputPipe[1]),
            error: .descriptor(errorPipe[1]))
    }
    if let input { _ = writeAll(inputPipe[1], Array(input.utf8)) }
    close(inputPipe[1])
    inputPipe[1] = -1
    let outData = readToEnd(outputPipe[0])
    let errData = readToEnd(errorPipe[0])
    let end = waitForChild(pid)
    return (end.status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Everything `descriptor` gives until its end. A read a signal interrupts is tried again: Foundation's
/// `readDataToEndOfFile()` stopped the whole test process on EINTR (once, while child processes were exiting).
private func readToEnd(_ descriptor: Int32) -> Data {
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            data.append(contentsOf: chunk[..<count])
        } else if count == 0 || errno != EINTR {
            return data
        }
    }
}

/// Runs `sqlite3` on a database file, as a user would, and returns its output lines.
func sqlite3(_ database: String, _ sql: String) async throws -> [String] {
    let result = try await runProgram("/usr/bin/sqlite3", [database, sql])
    #expect(result.status == 0, "sqlite3 failed: \(result.error)")
    return result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
        !$0.isEmpty
    }
}
