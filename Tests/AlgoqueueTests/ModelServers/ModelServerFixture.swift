import Foundation
import Glibc
import Testing

/// The real model servers the protocol tests call, installed by `scripts/setup-model-servers` (each in a virtual
/// environment), serving a scikit-learn digits model trained at test time in that environment.
enum ModelServers {
    static var root: String {
        ProcessInfo.processInfo.environment["ALGOQUEUE_MODEL_SERVERS"] ?? "/var/cache/algoqueue/model-servers"
    }

    /// The environment's python, or a failure saying how to install it.
    static func python(_ server: String) throws -> String {
        let path = "\(root)/\(server)/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationFailure("model server \(server) is not installed: run bash scripts/setup-model-servers")
        }
        return path
    }

    /// Trains a logistic regression on the first 1 000 digits, saves it (`model.joblib`, and as an MLflow model
    /// in `mlflow-model` when MLflow is there), and writes `inputs.json` (the next `count` digits, 64 integers
    /// each) and `expected.json` (the model's own predictions for them).
    static let trainScript = #"""
        import json, sys, joblib
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        directory, count = sys.argv[1], int(sys.argv[2])
        X, y = load_digits(return_X_y=True)
        model = LogisticRegression(max_iter=3000).fit(X[:1000], y[:1000])
        joblib.dump(model, f"{directory}/model.joblib")
        inputs = X[1000:1000 + count].astype(int)
        json.dump(inputs.tolist(), open(f"{directory}/inputs.json", "w"))
        json.dump(model.predict(inputs).tolist(), open(f"{directory}/expected.json", "w"))
        try:
            import mlflow.sklearn
            mlflow.sklearn.save_model(model, f"{directory}/mlflow-model")
        except ImportError:
            pass
        """#

    /// A model trained in `server`'s environment, in `directory`: its inputs and its own predictions.
    static func train(_ server: String, in directory: TemporaryDirectory, count: Int = 40) async throws -> (
        inputs: [[Int]], expected: [Int]
    ) {
        let script = directory.file("train.py")
        try trainScript.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try await runProgram(try python(server), [script, directory.path, String(count)])
        guard result.status == 0 else { throw ValidationFailure("training failed: \(result.error.suffix(2000))") }
        let inputs = try JSONDecoder().decode(
            [[Int]].self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("inputs.json"))))
        let expected = try JSONDecoder().decode(
            [Int].self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("expected.json"))))
        return (inputs, expected)
    }

    /// A port nobody listens on now (bound and let go); a server that then cannot bind it is started again.
    static func freePort() throws -> Int {
        let closed = try ClosedPort()
        defer { closed.close() }
        return closed.port
    }

    /// Starts a server with `start(port)` until it answers `health` (at most 3 tries with new ports, 180 s each).
    static func start(
        _ name: String, health: String, _ start: (Int) throws -> RunningProgram
    ) async throws -> (program: RunningProgram, port: Int) {
        var log = ""
        for _ in 0..<3 {
            let port = try freePort()
            let program = try start(port)
            let up = await eventually(within: .seconds(180)) {
                guard program.isRunning else { return true }
                return
                    (try? await runProgram(
                        "/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)\(health)"]))?.status == 0
            }
            if up, program.isRunning { return (program, port) }
            log = String(program.errorOutput.suffix(3000)) + String(program.output.suffix(1000))
            program.signal(SIGKILL)
        }
        throw ValidationFailure("\(name) did not start: \(log)")
    }
}
