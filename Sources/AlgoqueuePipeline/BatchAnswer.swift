import AlgoqueueAlgorithms
import AlgoqueueSupport

/// What a micro-batch answer says about each of its inputs.
///
/// Two forms are understood. A list of as many results as inputs, in order, where an entry `{"error": ...}`
/// fails only its input; or an object `{"results": [...]}` whose entries are `{"id": ..., "output": ...}` or
/// `{"id": ..., "error": ...}`, correlated with the inputs by the ids algoqueue sent (in any order; an input
/// without an entry fails alone), or by position when no entry has an id and there are as many as inputs.
enum BatchAnswer {
    /// One input's part of the answer.
    enum Item: Equatable {
        /// Its result, as sent.
        case output(ArraySlice<UInt8>)
        /// Why the algorithm failed it.
        case error(String)
    }

    /// Each input's part, in the order of `ids`; or, when the answer as a whole is unusable, why.
    static func items(_ bytes: [UInt8], ids: [String]) -> Result<[Item], AlgorithmFailure> {
        if let elements = JSONSyntax.arrayElements(bytes), elements.count == ids.count {
            return .success(elements.map { listItem(bytes[$0]) })
        }
        if let objects = JSONSyntax.objectEntries(ofMember: "results", in: bytes),
            let entries = resultEntries(objects, in: bytes)
        {
            if entries.allSatisfy({ $0.id != nil }) {
                var byID: [String: Item] = [:]
                for entry in entries where byID[entry.id!] == nil { byID[entry.id!] = entry.item }
                return .success(
                    ids.map { id in
                        byID[id] ?? .error("the algorithm's results had no entry for this input (id \(id))")
                    })
            }
            if entries.allSatisfy({ $0.id == nil }), entries.count == ids.count {
                return .success(entries.map(\.item))
            }
        }
        let got: String
        if let elements = JSONSyntax.arrayElements(bytes) {
            got = "a list of \(elements.count)"
        } else if JSONSyntax.member("results", of: bytes) != nil {
            got =
                #"{"results": ...} whose entries are not all objects with an "output" or "error", with ids or in order"#
        } else {
            got = "a JSON \(JSONSyntax.topLevelKind(bytes))"
        }
        return .failure(
            AlgorithmFailure(
                .invalidAnswer,
                "the batch answer must be a list of \(ids.count) results, one per input in order, or "
                    + #"{"results": [{"id": ..., "output": ...}, ...]} (got \#(got))"#))
    }

    /// Whether `element` holds a backslash or the bytes `"error"`: one pass over the bytes (Foundation's generic
    /// `firstRange(of:)` showed in a micro-batch profile).
    static func mayNameError(_ element: ArraySlice<UInt8>) -> Bool {
        element.withUnsafeBufferPointer { bytes in
            let (quote, backslash) = (UInt8(ascii: "\""), UInt8(ascii: "\\"))
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == backslash { return true }
                if byte == quote, index + 6 < bytes.count, bytes[index + 6] == quote,
                    UnsafeBufferPointer(rebasing: bytes[(index + 1)..<(index + 6)]).elementsEqual("error".utf8)
                {
                    return true
                }
                index += 1
            }
            return false
        }
    }

    /// A list entry: `{"error": ...}` alone fails its input; anything else is its result.
    static func listItem(_ element: ArraySlice<UInt8>) -> Item {
        // Most entries are results: one with neither `"error"` nor an escape in it cannot have a member named error.
        guard mayNameError(element) else { return .output(element) }
        let bytes = Array(element)
        if let members = JSONSyntax.objectMembers(bytes), members.count == 1, members[0].name == "error" {
            return .error(errorText(bytes[members[0].value]))
        }
        return .output(element)
    }

    /// The entries of a `results` list (``JSONSyntax/objectEntries(ofMember:in:maxDepth:)`` of `bytes`), or nil
    /// when one is not an object with `output` or `error`.
    static func resultEntries(_ objects: [[(name: String, value: Range<Int>)]?], in bytes: [UInt8]) -> [(
        id: String?, item: Item
    )]? {
        var entries: [(id: String?, item: Item)] = []
        entries.reserveCapacity(objects.count)
        for object in objects {
            guard let members = object else { return nil }
            let id = members.first { $0.name == "id" }.map { idText(bytes[$0.value]) }
            if let error = members.first(where: { $0.name == "error" }) {
                entries.append((id, .error(errorText(bytes[error.value]))))
            } else if let output = members.first(where: { $0.name == "output" }) {
                entries.append((id, .output(bytes[output.value])))
            } else {
                return nil
            }
        }
        return entries
    }

    /// An id as text: a JSON string's text, anything else as sent.
    static func idText(_ bytes: ArraySlice<UInt8>) -> String {
        JSONSyntax.stringValue(bytes) ?? String(decoding: bytes, as: UTF8.self)
    }

    /// An error value as a person reads it: a string's text, anything else as sent.
    static func errorText(_ bytes: ArraySlice<UInt8>) -> String {
        "the algorithm reported an error for this input: "
            + (JSONSyntax.stringValue(bytes) ?? String(decoding: bytes, as: UTF8.self))
    }
}
