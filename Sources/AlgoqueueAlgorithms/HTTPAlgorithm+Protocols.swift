import AlgoqueueSupport
import AsyncHTTPClient
import Foundation
import NIOCore

extension HTTPAlgorithm {
    /// A call in the configured protocol: the input (or each input of a micro-batch, whose `itemIDs` are set) goes
    /// in the protocol's request, and the answer comes back as one output per input (a micro-batch's as a JSON list,
    /// which the pipeline splits as for `raw`). An answer that does not fit the protocol is a `.contract` failure
    /// naming what was expected and what came.
    func callSpeakingProtocol(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure> {
        let batch = !input.itemIDs.isEmpty
        let items = batch ? JSONBytes.elements(input.bytes) ?? [] : [input.jsonValue ?? input.bytes]
        let codec = await self.codec()
        var request = input
        do {
            request.bytes = try codec.request(items)
        } catch {
            return .failure(
                AlgorithmFailure(
                    .invalidRequest,
                    "cannot send this input to \(displayURL) in protocol \(configuration.modelProtocol.rawValue): "
                        + "expected \(error.expected), got \(error.got)"))
        }
        request.contentType = .json
        let response: Response
        switch await exchange(request) {
        case .success(let answered): response = answered
        case .failure(let failure): return .failure(failure)
        }
        guard (200..<300).contains(response.status.code) else { return .failure(statusFailure(response)) }
        let text: String
        switch validJSON(response) {
        case .success(let valid): text = valid
        case .failure(let failure): return .failure(failure)
        }
        switch codec.outputs(Array(text.utf8), count: items.count) {
        case .success(let (outputs, metadata)):
            let output = batch ? "[" + outputs.joined(separator: ",") + "]" : outputs[0]
            return .success(AlgorithmAnswer(output: output, metadata: metadata, statusCode: Int(response.status.code)))
        case .failure(let mismatch):
            return .failure(
                AlgorithmFailure(
                    .contract,
                    "answer from \(displayURL) does not fit protocol \(configuration.modelProtocol.rawValue): "
                        + "expected \(mismatch.expected), got \(redacted(mismatch.got))",
                    statusCode: Int(response.status.code)))
        }
    }

    /// The codec of the configured protocol; for the Open Inference Protocol, with the model's input tensors from
    /// its metadata (read once, on the first call), or configured.
    func codec() async -> any ProtocolCodec {
        let settings = configuration.protocolSettings
        switch configuration.modelProtocol {
        case .raw, .kserveV1:
            // `raw` never comes here: `call` sends raw inputs as they are.
            return KServeV1Codec()
        case .template:
            return TemplateCodec(
                template: Array((settings.requestTemplate ?? "").utf8), pointer: settings.responsePointer)
        case .openAIEmbeddings:
            return OpenAIEmbeddingsCodec(model: settings.model, textField: settings.textField)
        case .openAIChat:
            return OpenAIChatCodec(model: settings.model, parameters: settings.parameters)
        case .openInference:
            if let known = modelInputs.withLock({ $0 }) { return OpenInferenceCodec(tensors: known) }
            // Read once: a metadata read that succeeds keeps the tensors (``modelMetadata()``); one that fails
            // leaves the defaults for this call only, and the next call asks again.
            let read = try? await modelMetadata().get()
            return OpenInferenceCodec(tensors: read?.tensors ?? tensors(declared: []))
        }
    }

    /// The input tensors calls use: those the model declares, with the configured `input_tensor` first and
    /// `datatype` applied.
    func tensors(declared: [OpenInferenceCodec.Tensor]) -> [OpenInferenceCodec.Tensor] {
        let settings = configuration.protocolSettings
        var tensors = declared
        if let name = settings.inputTensor {
            let datatype = settings.datatype ?? tensors.first { $0.name == name }?.datatype
            tensors = [OpenInferenceCodec.Tensor(name: name, datatype: datatype)] + tensors.filter { $0.name != name }
        } else if let datatype = settings.datatype {
            if tensors.isEmpty { tensors = [OpenInferenceCodec.Tensor(name: "input-0")] }
            tensors[0].datatype = datatype
        }
        return tensors
    }

    /// What an Open Inference model says of itself: whether it is ready, and its input tensors.
    public struct ModelMetadata: Sendable, Equatable {
        /// The model's name as the server knows it.
        public var name: String
        /// `GET …/ready` answered 200.
        public var ready: Bool
        /// The input tensors' names, as the model declares them (none: it declares no inputs).
        public var inputNames: [String]
        /// The input tensors, as `name (DATATYPE [shape])`, for people.
        public var inputsText: [String]
        /// The tensors calls use (the declared ones with the configuration applied).
        var tensors: [OpenInferenceCodec.Tensor]
    }

    /// The model's URL: the configured one without its trailing `/infer`.
    var modelURL: String {
        var url = configuration.url
        if let query = url.firstIndex(of: "?") { url = String(url[..<query]) }
        return url.hasSuffix("/infer") ? String(url.dropLast("/infer".count)) : url
    }

    /// Reads the Open Inference model's metadata (`GET` on the model's URL) and readiness (`GET …/ready`); a failure
    /// says what to fix. What it reads is kept for the calls that follow.
    public func modelMetadata() async -> Result<ModelMetadata, AlgorithmConfigurationError> {
        // Named without credentials or query, as every message names the endpoint.
        let displayModel = displayURL.hasSuffix("/infer") ? String(displayURL.dropLast("/infer".count)) : displayURL
        func fail(_ reason: String) -> Result<ModelMetadata, AlgorithmConfigurationError> {
            .failure(AlgorithmConfigurationError("algorithm \(name): the model at \(displayModel) \(reason)"))
        }
        guard let (status, body) = await get(modelURL) else { return fail("did not answer (is the server running?)") }
        guard status == 200 else {
            return fail("answered HTTP \(status) to GET (is the model name in the URL right?): \(excerpt(body) ?? "")")
        }
        let metadata = Array(body)
        guard let inputsList = JSONBytes.member("inputs", of: metadata).map({ JSONBytes.elements($0) ?? [] }) else {
            return fail("answered metadata without \"inputs\": \(JSONBytes.describe(metadata))")
        }
        var inputs: [OpenInferenceCodec.Tensor] = []
        var texts: [String] = []
        for entry in inputsList {
            let name = JSONBytes.member("name", of: entry).flatMap { JSONSyntax.stringValue($0) } ?? "?"
            let datatype = JSONBytes.member("datatype", of: entry).flatMap { JSONSyntax.stringValue($0) }
            let shape = JSONBytes.member("shape", of: entry).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
            inputs.append(OpenInferenceCodec.Tensor(name: name, datatype: datatype))
            texts.append("\(name) (\(datatype ?? "any") \(shape))")
        }
        let ready = await get(modelURL + "/ready")?.status == 200
        let modelName = JSONBytes.member("name", of: metadata).flatMap { JSONSyntax.stringValue($0) } ?? ""
        let tensors = tensors(declared: inputs)
        modelInputs.withLock { $0 = tensors }
        return .success(
            ModelMetadata(
                name: modelName, ready: ready, inputNames: inputs.map(\.name), inputsText: texts, tensors: tensors))
    }

    /// A `GET` with the configured headers, within 10 s: status and body, or nil when nothing answered.
    func get(_ url: String) async -> (status: Int, body: [UInt8])? {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers.fixed where name.lowercased() != "host" {
            request.headers.add(name: name, value: value)
        }
        let client: HTTPClient
        if case .client(let own) = transport { client = own } else { client = HTTPClient.shared }
        guard let response = try? await client.execute(request, timeout: .seconds(10)),
            let body = try? await response.body.collect(upTo: configuration.maxAnswerBytes)
        else { return nil }
        return (Int(response.status.code), Array(body.readableBytesView))
    }
}
