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

    @Test("keys are text when UTF-8 and hex otherwise")
    func keys() {
        #expect(InputDecoder.keyText(Array("user-7".utf8)) == "user-7")
        #expect(InputDecoder.keyText([0xFF, 0x01]) == "0xff01")
        #expect(InputDecoder.keyText(nil) == nil)
    }
}
