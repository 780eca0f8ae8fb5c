import AlgoqueueSupport

/// The Open Inference Protocol (KServe V2). An input is one row of the model's input tensor (a JSON list, nested for
/// more dimensions, or one value), or an object of tensor name → row for a model with several inputs; a call stacks
/// its inputs' rows into tensors of shape `[n, ...]`, sent flattened (row-major). Each output tensor is split back
/// by row: an input's output is an object of output name → its slice (one value where the slice holds one).
struct OpenInferenceCodec: ProtocolCodec {
    /// What is known of an input tensor: its name and, when the model's metadata or the configuration says, its
    /// datatype.
    struct Tensor: Equatable, Sendable {
        var name: String
        var datatype: String?
    }

    /// The model's inputs, in order (from its metadata, or configured); empty: one tensor named `input-0`.
    let tensors: [Tensor]

    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8] {
        let first = tensors.first ?? Tensor(name: "input-0")
        // An object input names its tensors (for models with several inputs): tensor name → row.
        let named = inputs.allSatisfy { JSONSyntax.topLevelKind($0) == "object" }
        var specs: [(name: String, datatype: String?, rows: [[UInt8]])] = []
        if named {
            let members = inputs.map { JSONSyntax.objectMembers($0) ?? [] }
            // The model's known inputs, when it names them (metadata or input_tensor): other members are left out
            // (an id or a label beside the features); otherwise every member is a tensor.
            let present = members.first.map { $0.map(\.name) } ?? []
            let known = tensors.map(\.name).filter(present.contains)
            let names = known.isEmpty ? present : known
            for name in names {
                var rows: [[UInt8]] = []
                for (input, fields) in zip(inputs, members) {
                    guard let range = fields.first(where: { $0.name == name })?.value else {
                        throw ProtocolMismatch(
                            expected: "every input with tensor \"\(name)\"", got: JSONBytes.describe(input))
                    }
                    rows.append(Array(input[range]))
                }
                specs.append((name, tensors.first { $0.name == name }?.datatype, rows))
            }
        } else {
            specs.append((first.name, first.datatype, inputs))
        }
        var encoded: [[UInt8]] = []
        for spec in specs {
            var dims: [Int]?
            var leaves: [[UInt8]] = []
            for row in spec.rows {
                var rowLeaves: [[UInt8]] = []
                guard let rowDims = Self.flatten(row, into: &rowLeaves) else {
                    throw ProtocolMismatch(
                        expected: "a row of numbers, strings or booleans (nested lists of one shape)",
                        got: JSONBytes.describe(row))
                }
                if let dims, dims != rowDims {
                    throw ProtocolMismatch(
                        expected: "rows of one shape \(dims) in tensor \"\(spec.name)\"",
                        got: "a row of shape \(rowDims)")
                }
                dims = rowDims
                leaves += rowLeaves
            }
            let shape = [spec.rows.count] + (dims ?? [])
            encoded.append(
                JSONBytes.object([
                    ("name", JSONBytes.string(spec.name)),
                    ("shape", Array("[\(shape.map(String.init).joined(separator: ","))]".utf8)),
                    ("datatype", JSONBytes.string(spec.datatype ?? Self.datatype(of: leaves))),
                    ("data", JSONBytes.list(leaves)),
                ]))
        }
        return JSONBytes.object([("inputs", JSONBytes.list(encoded))])
    }

    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch> {
        let expected = #"{"outputs": [{"name", "shape": [\#(count), ...], "data": [...]}]}"#
        guard let outputs = JSONBytes.member("outputs", of: answer).flatMap(JSONBytes.elements), !outputs.isEmpty else {
            return .failure(ProtocolMismatch(expected: expected, got: JSONBytes.describe(answer)))
        }
        var perRow = [[(String, [UInt8])]](repeating: [], count: count)
        for output in outputs {
            guard let nameBytes = JSONBytes.member("name", of: output),
                let name = JSONSyntax.stringValue(nameBytes),
                let shape = JSONBytes.member("shape", of: output).flatMap(JSONBytes.elements)?
                    .compactMap({ Int(String(decoding: $0, as: UTF8.self)) }),
                let data = JSONBytes.member("data", of: output)
            else {
                return .failure(ProtocolMismatch(expected: expected, got: JSONBytes.describe(output)))
            }
            var leaves: [[UInt8]] = []
            let inner = Array(shape.dropFirst())
            let size = inner.reduce(1, *)
            guard shape.first == count, Self.flatten(data, into: &leaves) != nil, leaves.count == count * size else {
                return .failure(
                    ProtocolMismatch(
                        expected: "output \"\(name)\" of shape [\(count), ...]",
                        got: "shape \(shape) with \(leaves.count) values"))
            }
            for row in 0..<count {
                let slice = Array(leaves[(row * size)..<((row + 1) * size)])
                perRow[row].append((name, size == 1 ? slice[0] : Self.nest(slice, dims: inner)))
            }
        }
        return .success((perRow.map { String(decoding: JSONBytes.object($0), as: UTF8.self) }, nil))
    }

    /// Appends the scalars of `value` (row-major) to `leaves` and returns its dimensions (`[]` for a scalar); nil
    /// when it holds an object, null, or lists of different lengths at one depth.
    static func flatten(_ value: [UInt8], into leaves: inout [[UInt8]]) -> [Int]? {
        switch JSONSyntax.topLevelKind(value) {
        case "array":
            guard let elements = JSONBytes.elements(value) else { return nil }
            var inner: [Int]?
            for element in elements {
                guard let dims = flatten(element, into: &leaves), inner == nil || inner == dims else { return nil }
                inner = dims
            }
            return [elements.count] + (inner ?? [])
        case "number", "string", "true", "false":
            leaves.append(value)
            return []
        default:
            return nil
        }
    }

    /// `leaves` nested into lists of `dims` (row-major).
    static func nest(_ leaves: [[UInt8]], dims: [Int]) -> [UInt8] {
        guard let first = dims.first, dims.count > 1 else { return JSONBytes.list(leaves) }
        let size = leaves.count / max(1, first)
        return JSONBytes.list(
            (0..<first).map { nest(Array(leaves[($0 * size)..<(($0 + 1) * size)]), dims: Array(dims.dropFirst())) })
    }

    /// The datatype the values call for: `BYTES` for strings, `BOOL`, `INT64` for integers, `FP64` otherwise.
    static func datatype(of leaves: [[UInt8]]) -> String {
        let kinds = Set(leaves.map(JSONSyntax.topLevelKind))
        if kinds.contains("string") { return "BYTES" }
        if kinds.isSubset(of: ["true", "false"]) { return "BOOL" }
        let fractional = leaves.contains {
            $0.contains { [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains($0) }
        }
        return fractional ? "FP64" : "INT64"
    }
}
