import AlgoqueueAlgorithms
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueResultsTopic

/// The per-row fast paths: timestamps written digit by digit, batch entries recognised without a parse.
@Suite("Row encoding")
struct RowEncodingTests {
    @Test("Timestamps read as Foundation's ISO 8601 with milliseconds, for any instant")
    func timestamps() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        let samples: [Int64] = [
            0, 1, 999, 1_000, 59_999, 86_399_999, 951_782_400_123, 1_795_531_200_007, 253_402_300_799_999,
        ]
        for milliseconds in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            #expect(Timestamp.iso8601(milliseconds: milliseconds) == expected)
        }
        #expect(Timestamp.iso8601(milliseconds: 1_795_531_200_007) == "2026-11-24T14:40:00.007Z")
    }

    @Test("A list entry is an error only when it is an object whose one member is named error, escaped or not")
    func listEntries() {
        func item(_ json: String) -> BatchAnswer.Item { BatchAnswer.listItem(ArraySlice(Array(json.utf8))) }
        #expect(item(#"{"error": "bad input"}"#) == .error("the algorithm reported an error for this input: bad input"))
        #expect(
            item(#"{"\u0065rror": "escaped name"}"#)
                == .error("the algorithm reported an error for this input: escaped name"))
        #expect(item(#"{"label": 3}"#) == .output(ArraySlice(Array(#"{"label": 3}"#.utf8))))
        #expect(
            item(#"{"text": "the word \"error\" inside"}"#)
                == .output(ArraySlice(Array(#"{"text": "the word \"error\" inside"}"#.utf8))))
        #expect(item(#"{"error": "x", "label": 3}"#) == .output(ArraySlice(Array(#"{"error": "x", "label": 3}"#.utf8))))
        #expect(item(#""error""#) == .output(ArraySlice(Array(#""error""#.utf8))))
        // The quick look that lets most entries skip the parse, on slices of a larger answer as the pipeline has them.
        let answer = Array(#"[{"label": 1}, {"error": "x"}, {"a": "b\n"}, "erro", "error"]"#.utf8)
        let entries = JSONSyntax.arrayElements(answer)!.map { answer[$0] }
        #expect(entries.map(BatchAnswer.mayNameError) == [false, true, true, false, true])
        #expect(
            JSONSyntax.objectMembers(Array(#"{"na\"me": 1, "plain": 2}"#.utf8))?.map(\.name) == [#"na"me"#, "plain"])
    }
}

@Suite("JSON text")
struct JSONTextTests {
    @Test("An answer's text is trimmed of JSON whitespace only")
    func trimmed() {
        #expect(JSONSyntax.trimmedText(Array(" \t\r\n{\"a\": \" x \"}\n\n".utf8)) == #"{"a": " x "}"#)
        #expect(JSONSyntax.trimmedText(Array("42".utf8)) == "42")
        #expect(JSONSyntax.trimmedText(Array(" \n ".utf8)) == "")
        #expect(JSONSyntax.trimmedText(Array("\"é\" ".utf8)) == "\"é\"")
    }

    @Test("A JSON string's text: as it is without escapes, decoded with them, nil when it is not one string")
    func stringValues() {
        #expect(JSONSyntax.stringValue(Array(#""plain é""#.utf8)) == "plain é")
        #expect(JSONSyntax.stringValue(Array(#""a\"b\u0065""#.utf8)) == #"a"be"#)
        #expect(JSONSyntax.stringValue(Array(#""a"b""#.utf8)) == nil)
        #expect(JSONSyntax.stringValue(Array("\"tab\there\"".utf8)) == nil)
        #expect(JSONSyntax.stringValue([0x22, 0xFF, 0x22]) == nil)
        // Not UTF-8: a 4-byte sequence cut short (its replacement has as many bytes), a surrogate, an overlong form.
        #expect(JSONSyntax.stringValue([0x22, 0x61, 0xF0, 0x9F, 0x98, 0x22]) == nil)
        #expect(JSONSyntax.stringValue([0x22, 0xED, 0xA0, 0x80, 0x22]) == nil)
        #expect(JSONSyntax.stringValue([0x22, 0xC0, 0xAF, 0x22]) == nil)
        #expect(JSONSyntax.stringValue([0x22, 0xEF, 0xBF, 0xBD, 0xF0, 0x9F, 0x98, 0x80, 0x22]) == "\u{FFFD}😀")
        #expect(JSONSyntax.stringValue(Array("42".utf8)) == nil)
        #expect(JSONSyntax.stringValue(Array(#""""#.utf8)) == "")
    }

    @Test("a duration read back from a row message is the double strtod reads, for every form Swift writes")
    func decimals() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "1.5", "0.1", "123456789012345", "1234567890123456", "1e-05", "2.5E+3", "0.000001"]
        for _ in 0..<20_000 {
            let magnitude = [1e-6, 1e-3, 1, 1e3, 1e6, 1e12][Int.random(in: 0..<6, using: &generator)]
            let value = Double.random(in: 0..<magnitude, using: &generator)
            texts += ["\(value)", String(format: "%.3f", value), String(format: "%.9f", -value)]
        }
        var fast = 0
        for text in texts {
            let expected = Double(text)
            let read = Array(text.utf8).withUnsafeBufferPointer { bytes in
                RowFields.plainDecimal(bytes).map { value -> Double in
                    fast += 1
                    return value
                } ?? Double(text)
            }
            #expect(read?.bitPattern == expected?.bitPattern, "\(text)")
        }
        // Most of them take the short way (at most 15 digits, no exponent).
        #expect(fast > texts.count / 2)
    }
}
