import AlgoqueueKafka
import Testing

@testable import AlgoqueuePipeline

@Suite("Input decoder: bad input gets a reason a person can act on")
struct InputDecoderTests {
    let decoder = InputDecoder(maxInputBytes: 64)

    func reason(_ value: [UInt8]?) -> String? {
        let message = KafkaMessage(topic: "t", partition: 0, offset: 0, value: value)
        if case .invalid(let reason) = decoder.decode(message) { return reason }
        return nil
    }

    @Test("valid JSON of any kind but null is an input")
    func valid() {
        for text in [#"{"a": 1}"#, "[1, 2]", #""text""#, "42", "true"] {
            #expect(reason(Array(text.utf8)) == nil, "\(text) should be accepted")
        }
    }

    @Test("each kind of bad input names what is wrong")
    func invalid() {
        #expect(reason(nil)?.contains("no value (null)") == true)
        #expect(reason([])?.contains("empty") == true)
        #expect(reason(Array("null".utf8))?.contains("JSON null") == true)
        #expect(reason(Array("  \n".utf8))?.contains("no JSON value") == true)
        #expect(reason([0x22, 0xE2, 0x82, 0x22])?.contains("not valid UTF-8 (bad byte at offset 1)") == true)
        #expect(
            reason(Array(#"{"a": tru}"#.utf8))
                == "the message value is not valid JSON: unexpected character 't', expected a value at byte 6")
        let big = Array(repeating: UInt8(ascii: "1"), count: 65)
        #expect(
            reason(big)
                == "the input is 65 bytes, above the limit of 64 bytes (pipeline.max_input_bytes); send a smaller input or raise the limit"
        )
    }

    @Test("what the base row knows is not checked again; what it does not know still is")
    func known() {
        let json = KafkaMessage(topic: "t", partition: 0, offset: 0, key: [0xFF], value: Array(#"{"a": 1}"#.utf8))
        guard case .input(let input) = decoder.decode(json, key: "0xff", valueIsText: true) else {
            Issue.record("a valid input was refused")
            return
        }
        #expect(input.key == "0xff")
        #expect(input.source == "t/0/0")
        let bad = KafkaMessage(topic: "t", partition: 0, offset: 1, value: [0x22, 0xE2, 0x82, 0x22])
        guard case .invalid(let reason) = decoder.decode(bad, key: nil, valueIsText: false) else {
            Issue.record("invalid UTF-8 was taken")
            return
        }
        #expect(reason.contains("not valid UTF-8"))
        // Text with a NUL byte: no text in the row's input column, yet valid UTF-8 for a text/plain input.
        let text = KafkaMessage(
            topic: "t", partition: 0, offset: 2, value: Array("a\u{0}b".utf8),
            headers: [KafkaHeader(name: "content-type", value: Array("text/plain".utf8))])
        #expect(InputDecoder.inputText(text.value) == nil)
        guard case .input = decoder.decode(text, key: nil, valueIsText: InputDecoder.inputText(text.value) != nil)
        else {
            Issue.record("UTF-8 text with a NUL byte was refused")
            return
        }
    }

    @Test("keys are text when UTF-8 and hex otherwise")
    func keys() {
        #expect(InputDecoder.keyText(Array("user-7".utf8)) == "user-7")
        #expect(InputDecoder.keyText([0xFF, 0x01]) == "0xff01")
        #expect(InputDecoder.keyText(nil) == nil)
    }
}
