/// The request and answer shapes an HTTP algorithm speaks, so that model servers need no adapter in front.
public enum ModelProtocol: String, Sendable, CaseIterable {
    /// Each input is POSTed as it is; a micro-batch is a JSON list, answered by a list. The default.
    case raw
    /// `{"instances": [...]}` answered by `{"predictions": [...]}`: TF Serving's REST API, KServe V1, Vertex AI,
    /// MLflow's scoring server (`/invocations`).
    case kserveV1 = "kserve-v1"
    /// The Open Inference Protocol (KServe V2): Triton, MLServer, KServe, TorchServe, OpenVINO Model Server. An
    /// input is one row of the input tensor (or an object of tensor name → row); a batch stacks the rows.
    case openInference = "open-inference"
    /// OpenAI-compatible `/v1/embeddings`: `{"model": M, "input": [texts]}` → `data[].embedding`.
    case openAIEmbeddings = "openai-embeddings"
    /// OpenAI-compatible `/v1/chat/completions`, one call per input; the output is the reply's text.
    case openAIChat = "openai-chat"
    /// A request template with `"{{input}}"` (or `"{{inputs}}"` for a list) and a JSON pointer to the output(s).
    case template
}

/// The settings the protocols other than `raw` read.
public struct ModelProtocolSettings: Sendable, Equatable {
    /// The model named in OpenAI-compatible requests (`"model"`). Default: none (the server's default model).
    public var model: String?
    /// `openai-embeddings`: the field of an object input that holds the text. Default: `text`.
    public var textField = "text"
    /// `openai-chat`: more request fields (`temperature: 0`, `max_tokens: 64`); a value that reads as JSON is sent
    /// as that JSON, others as strings. Default: none.
    public var parameters: [String: String] = [:]
    /// `template`: the request body, JSON with the string `"{{input}}"` where an input goes, or `"{{inputs}}"` where
    /// the list of a micro-batch's inputs goes.
    public var requestTemplate: String?
    /// `template`: an RFC 6901 JSON pointer to the output in the answer (or to the list of outputs, with
    /// `"{{inputs}}"`). Default: the whole answer.
    public var responsePointer = ""
    /// `open-inference`: the input tensor's name. Default: the model's first input in its metadata, else `input-0`.
    public var inputTensor: String?
    /// `open-inference`: the input tensor's datatype (`FP32`, `INT64`, `BYTES`, ...). Default: the model's metadata,
    /// else from the values (`INT64` for integers, `FP64` for other numbers, `BOOL`, `BYTES` for strings).
    public var datatype: String?

    /// Defaults.
    public init() {}
}
