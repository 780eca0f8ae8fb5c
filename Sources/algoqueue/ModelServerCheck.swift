import AlgoqueueAlgorithms
import AlgoqueueConfig

/// What `check-config` and `run` ask the Open Inference model servers before any input: whether the model is there
/// and ready, and what tensors it takes. A model that is not there, not ready, or without the configured input
/// tensor is a configuration problem (exit 78).
enum ModelServerCheck {
    /// The problems found, and a line per model saying what it takes.
    static func openInference(_ settings: Settings) async -> (problems: [ConfigProblem], notes: [String]) {
        var problems: [ConfigProblem] = []
        var notes: [String] = []
        let all = settings.effectiveAlgorithms
        for (index, algorithm) in all.enumerated()
        where algorithm.kind == .http && algorithm.modelProtocol == .openInference {
            let key = settings.algorithms.isEmpty ? "algorithm.url" : "algorithms[\(index)].url"
            guard let http = try? HTTPAlgorithm(algorithm.httpConfiguration(maxConnections: 1)) else { continue }
            let metadata = await http.modelMetadata()
            await http.shutdown()
            switch metadata {
            case .failure(let error):
                problems.append(ConfigProblem(key, error.message))
            case .success(let model):
                let inputs =
                    model.inputsText.isEmpty
                    ? "inputs not declared (datatype from the values)"
                    : "inputs \(model.inputsText.joined(separator: ", "))"
                notes.append(
                    "model \(model.name) (\(algorithm.effectiveName)): \(model.ready ? "ready" : "NOT READY"), \(inputs)"
                )
                if !model.ready {
                    problems.append(
                        ConfigProblem(key, "the model \(model.name) is not ready (GET …/ready did not answer 200)"))
                }
                if let tensor = algorithm.protocolSettings.inputTensor, !model.inputNames.isEmpty,
                    !model.inputNames.contains(tensor)
                {
                    problems.append(
                        ConfigProblem(
                            key.replacingOccurrences(of: ".url", with: ".input_tensor"),
                            "the model \(model.name) has no input tensor \(tensor); it takes \(model.inputsText.joined(separator: ", "))"
                        ))
                }
            }
        }
        return (problems, notes)
    }
}
