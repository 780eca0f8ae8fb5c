import AlgoqueueConfig
import AlgoqueueKafka
import Foundation
import Testing

@Suite("Configuration file")
struct ConfigFileTests {
    @Test("the example in deploy/ parses with no problem and passes the checks run makes")
    func exampleIsDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let (settings, problems) = ConfigFile.load(
            root.appendingPathComponent("deploy/algoqueue.example.yaml").path, environment: [:])
        #expect(problems.isEmpty, "\(problems)")
        // Every key's value against the defaults: ConfigKeysTests.exampleFile.
        #expect(settings.algorithms.isEmpty)
        #expect(settings.settingsProblemsIgnoringURL.isEmpty)
    }

    @Test("values are read in every form: lists or comma strings, durations, pass-through properties")
    func values() {
        let (settings, problems) = ConfigFile.parse(
            """
            kafka:
              brokers: "a:1, b:2"
              topics: [x, y]
              start_from: LATEST
              properties:
                fetch.wait.max.ms: 100
                sasl.password: ${SECRET}
            algorithm:
              url: http://h:1/p
              timeout: 1.5s
              headers:
                Authorization: Bearer ${TOKEN}
            store:
              keep_inputs: no
            pipeline:
              shutdown_timeout: 2m
            """, environment: ["SECRET": "s3", "TOKEN": "t0k"])
        #expect(problems.isEmpty, "\(problems)")
        #expect(settings.kafka.brokers == ["a:1", "b:2"])
        #expect(settings.kafka.topics == ["x", "y"])
        #expect(settings.kafka.startPosition == .latest)
        #expect(settings.kafka.properties == ["fetch.wait.max.ms": "100", "sasl.password": "s3"])
        #expect(settings.algorithm.timeout == .milliseconds(1500))
        #expect(settings.algorithm.headers == ["Authorization": "Bearer t0k"])
        #expect(settings.store.keepInputs == false)
        #expect(settings.pipeline.shutdownTimeout == .seconds(120))
        #expect(settings.problems().isEmpty)
    }

    @Test("every problem is reported at once, with suggestions")
    func problems() {
        let (_, problems) = ConfigFile.parse(
            """
            kafak:
              brokers: x
            store:
              synchronus: full
              synchronous: sometimes
            pipeline:
              concurrency: lots
            """)
        #expect(
            problems.map(\.description) == [
                "kafak: unknown key; did you mean kafka?",
                "store.synchronus: unknown key; did you mean store.synchronous?",
                "store.synchronous: must be one of full, normal (got \"sometimes\")",
                "pipeline.concurrency: must be a whole number (got \"lots\")",
            ])
        #expect(ConfigFile.parse("- a\n- b").1.first?.message.contains("top level must be a mapping") == true)
        #expect(ConfigFile.parse("a: [").1.first?.message.contains("not valid YAML") == true)
    }

    @Test("impossible settings are problems")
    func impossible() {
        var settings = Settings()
        settings.algorithm.url = "http://127.0.0.1:1/x"
        settings.algorithm.timeout = .seconds(3601)
        settings.pipeline.concurrency = 0
        settings.kafka.properties = ["no.such.property": "1", "sasl.password": "hunter2", "session.timeout.ms": "soon"]
        settings.pipeline.deadLetterTopic = "inputs-dead"
        settings.kafka.topics = ["inputs-dead"]
        settings.pipeline.retry.maxAttempts = 0
        let problems = settings.problems()
        #expect(
            problems.map(\.key) == [
                "kafka.properties", "kafka.properties", "algorithm.timeout", "pipeline.concurrency",
                "retry.max_attempts",
                "kafka.dead_letter_topic",
            ])
        #expect(problems[0].message.contains("no.such.property"))
        #expect(problems[1].message.contains("session.timeout.ms = \"soon\" was refused"))
        #expect(!problems.description.contains("hunter2"))
    }

    @Test("algorithms fan out from a list; batch, split, fan-out and sideband settings are checked together")
    func patterns() {
        let (settings, problems) = ConfigFile.parse(
            """
            kafka: {topics: [in]}
            algorithms:
              - {name: a, url: "http://h:1/a"}
              - {name: b, kind: process, command: python3 worker.py --fast, workers: 3}
              - {name: a, kind: builtin, timout: 1s}
            fan_out: {fail_fast: yes}
            batch_messages: {mode: off}
            split: {max_items: 100, completion_topic: in}
            sideband: {input_dir: /no/such/dir}
            """)
        #expect(problems.map(\.key) == ["algorithms[2].timout"])
        #expect(problems.first?.message.contains("did you mean algorithms[2].timeout?") == true)
        #expect(settings.algorithms.map(\.effectiveName) == ["a", "b", "a"])
        #expect(settings.algorithms[1].command == ["python3", "worker.py", "--fast"])
        #expect(settings.algorithms[1].workers == 3)
        #expect(settings.pipeline.fanOut.failFast)
        let found = settings.problems(environment: [:])
        #expect(
            found.map(\.key) == [
                "algorithms[1].command", "algorithms[2].name", "algorithms", "split.max_items", "sideband.input_dir",
                "split.completion_topic",
            ])
        // The worker's script is looked for where run would start it (here: the tests' working directory).
        #expect(found[0].message.contains("python3's script worker.py does not exist in the working directory"))
        #expect(found[2].message == "two algorithms are named a: give each its own name")
        #expect(found[3].message.contains("set batch_messages.mode to auto or required"))
    }

    @Test("the consumer always commits explicitly, whatever is passed through")
    func guaranteesSurvivePassThrough() {
        var kafka = KafkaConsumerConfiguration()
        kafka.properties = ["enable.auto.commit": "true", "fetch.wait.max.ms": "50"]
        let properties = kafka.librdkafkaProperties()
        #expect(properties.last { $0.0 == "enable.auto.commit" }?.1 == "false")
        #expect(properties.last { $0.0 == "fetch.wait.max.ms" }?.1 == "50")
    }
}

extension Settings {
    /// Problems other than the missing algorithm URL (the example leaves its URL as a placeholder).
    var settingsProblemsIgnoringURL: [ConfigProblem] { problems().filter { $0.key != "algorithm.url" } }
}
