import AlgoqueueAlgorithms
import AlgoqueueSupport
import Foundation
import Testing

@Suite("JSON syntax check")
struct JSONSyntaxTests {
    @Test(
        "accepts what JSONSerialization accepts",
        arguments: [
            #"{}"#, #"[]"#, #"{"a": [1, -2.5e10, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"]}"#, #"  0  "#, #""é""#,
            #"[[[]]]"#, #"{"nested": {"deep": [1, {"k": "v"}]}}"#, "-0.0E+1",
        ])
    func accepts(_ text: String) throws {
        try JSONSyntax.validate(Array(text.utf8))
        _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test(
        "rejects what is not JSON, saying where",
        arguments: [
            ("{", "unexpected end of input in an object at byte 1"),
            (#"{"a" 1}"#, "expected ':' after a member name at byte 5"),
            ("[1,]", "unexpected character ']', expected a value at byte 3"),
            ("01", "unexpected text after the JSON value at byte 1"),
            (#""abc"#, "unterminated string at byte 4"),
            ("{\"a\": \"x\ty\"}", "control character in a string (escape it) at byte 8"),
            (#"[1] [2]"#, "unexpected text after the JSON value at byte 4"),
            ("1.", "expected a digit after '.' at byte 2"),
            (#""\x""#, "bad escape '\\x' in a string at byte 2"),
        ])
    func rejects(_ text: String, _ expected: String) {
        #expect(throws: JSONSyntax.Failure.self) { try JSONSyntax.validate(Array(text.utf8)) }
        do {
            try JSONSyntax.validate(Array(text.utf8))
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("nesting beyond the limit is refused without exhausting the stack")
    func depth() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(throws: JSONSyntax.Failure.self) { try JSONSyntax.validate(deep) }
        let fine = Array((String(repeating: "[", count: 512) + String(repeating: "]", count: 512)).utf8)
        #expect(throws: Never.self) { try JSONSyntax.validate(fine) }
    }

    @Test("array elements are found with their text as sent")
    func arrayElements() {
        let text = #" [ {"a": [1, 2]} , "x,y" ,3.5e2,[] , null ] "#
        let bytes = Array(text.utf8)
        let elements = JSONSyntax.arrayElements(bytes)?.map { String(decoding: bytes[$0], as: UTF8.self) }
        #expect(elements == [#"{"a": [1, 2]}"#, #""x,y""#, "3.5e2", "[]", "null"])
        #expect(JSONSyntax.arrayElements(Array("[]".utf8))?.isEmpty == true)
        #expect(JSONSyntax.arrayElements(Array(#"{"a": 1}"#.utf8)) == nil)
        #expect(JSONSyntax.arrayElements(Array("[1,".utf8)) == nil)
    }

    @Test("the objects of an array member are found in the same checking pass as the whole document")
    func objectEntries() {
        let text =
            #" {"model": "m", "r\u0065sults": [{"id": "a", "output": [1, 2]}, 7, {"error": "x"}], "results": []} "#
        let bytes = Array(text.utf8)
        let entries = JSONSyntax.objectEntries(ofMember: "results", in: bytes)
        // The first member of that name (escapes resolved); an entry that is not an object is nil.
        #expect(entries?.count == 3)
        #expect(entries?[0]?.map(\.name) == ["id", "output"])
        #expect(entries?[0].map { String(decoding: bytes[$0[1].value], as: UTF8.self) } == "[1, 2]")
        #expect(entries?[1] == nil)
        #expect(entries?[2]?.map(\.name) == ["error"])
        #expect(JSONSyntax.objectEntries(ofMember: "results", in: Array(#"{"results": []}"#.utf8))?.isEmpty == true)
        // No such member, not an array, or a fault anywhere in the document (after the list too): nil.
        for bad in [
            #"{"other": []}"#, #"{"results": {"id": 1}}"#, #"{"results": [{"id": 1}], "x": }"#,
            #"{"results": [{"id": 1},]}"#, #"{"results": [{"id" 1}]}"#, #"[{"id": 1}]"#, "",
        ] {
            let found = JSONSyntax.objectEntries(ofMember: "results", in: Array(bad.utf8))
            #expect(found == nil, "\(bad)")
        }
        // The nesting limit counts from the document, as validate's does.
        let deep = Array(#"{"results": [{"a": [[1]]}]}"#.utf8)
        #expect(JSONSyntax.objectEntries(ofMember: "results", in: deep, maxDepth: 4) == nil)
        #expect(JSONSyntax.objectEntries(ofMember: "results", in: deep, maxDepth: 5)?.count == 1)
        #expect((try? JSONSyntax.validate(deep, maxDepth: 4)) == nil)
        #expect((try? JSONSyntax.validate(deep, maxDepth: 5)) != nil)
    }

    @Test("object members are found in one checking pass: names as sent, values as sent, nil when not one object")
    func objectMembers() {
        let text = #" { "a" : [1, {"b": 2}] , "n\u0061me": "x,y}" ,"c":null } "#
        let bytes = Array(text.utf8)
        let members = JSONSyntax.objectMembers(bytes)
        #expect(members?.map(\.name) == ["a", "name", "c"])
        #expect(
            members?.map { String(decoding: bytes[$0.value], as: UTF8.self) } == [
                #"[1, {"b": 2}]"#, #""x,y}""#, "null",
            ])
        #expect(JSONSyntax.objectMembers(Array("{}".utf8))?.isEmpty == true)
        for bad in [#"{"a": 1"#, #"{"a": 1} x"#, "[1]", #"{"a" 1}"#, #"{"a": 1,}"#, #"{"a": [}"#, ""] {
            #expect(JSONSyntax.objectMembers(Array(bad.utf8)) == nil, "\(bad)")
        }
        var seen = 0
        let walked = bytes.withUnsafeBufferPointer { buffer in
            JSONSyntax.forEachMember(of: buffer) { name, _ in
                #expect(buffer[name].first == UInt8(ascii: "\"") && buffer[name].last == UInt8(ascii: "\""))
                seen += 1
            }
        }
        #expect(walked && seen == 3)
    }
}
