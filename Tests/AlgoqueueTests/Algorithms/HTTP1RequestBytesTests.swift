import NIOCore
import NIOHTTP1
import Testing

@testable import AlgoqueueAlgorithms

@Suite("Plain-HTTP requests encoded in one buffer")
struct HTTP1RequestBytesTests {
    @Test("request line, fixed headers, the input's headers, Content-Length, blank line, body, in that order")
    func bytes() throws {
        let start = try HTTP1RequestBytes.start(
            uri: "/predict?v=2", headers: [("Host", "127.0.0.1:8080"), ("X-Fixed", "a\tb")])
        var input = AlgorithmInput(json: Array(#"{"n":1}"#.utf8), key: "k", source: "t/0/7")
        input.headers = [("X-Trace", "1")]
        let none = HTTPCallHeaders(builtIn: [], configured: [:])
        let buffer = try HTTP1RequestBytes.post(start: start, headers: none, input: input)
        #expect(
            String(buffer: buffer)
                == "POST /predict?v=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Fixed: a\tb\r\n"
                + "Content-Type: application/json\r\nX-Algoqueue-Source: t/0/7\r\nX-Algoqueue-Key: k\r\n"
                + "X-Trace: 1\r\nContent-Length: 7\r\n\r\n{\"n\":1}")
        let empty = try HTTP1RequestBytes.post(
            start: HTTP1RequestBytes.start(uri: "/", headers: []), headers: none, input: AlgorithmInput(json: []))
        #expect(
            String(buffer: empty) == "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n")
    }

    @Test("names that are not tokens and values with control characters are refused, naming the header")
    func refused() throws {
        let start = try HTTP1RequestBytes.start(uri: "/", headers: [])
        for (name, value) in [
            ("X-Key", "a\r\nX-Evil: 1"), ("X-Key", "a\nb"), ("X-Key", "a\u{0}b"), ("X-Key", "a\u{7F}"),
            ("X Key", "a"), ("X:Key", "a"), ("", "a"),
        ] {
            // A fixed header, checked once when the algorithm is made, and one an input carries, checked per call.
            #expect(throws: HTTP1HeaderError(name: name)) {
                try HTTP1RequestBytes.start(uri: "/", headers: [(name, value)])
            }
            var input = AlgorithmInput(json: [])
            input.headers = [(name, value)]
            #expect(throws: HTTP1HeaderError(name: name)) {
                try HTTP1RequestBytes.post(
                    start: start, headers: HTTPCallHeaders(builtIn: [], configured: [:]), input: input)
            }
        }
        #expect(HTTP1RequestBytes.isFieldValue("Bearer abc/é ~"))
    }
}
