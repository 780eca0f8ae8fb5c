import NIOCore
import NIOHTTP1
import Testing

@testable import AlgoqueueAlgorithms

@Suite("Plain-HTTP requests encoded in one buffer")
struct HTTP1RequestBytesTests {
    @Test("request line, headers in order, Content-Length, blank line, body")
    func bytes() throws {
        let headers = HTTPHeaders([
            ("Host", "127.0.0.1:8080"), ("Content-Type", "application/json"), ("X-Key", "a\tb"),
        ])
        let buffer = try HTTP1RequestBytes.post(uri: "/predict?v=2", headers: headers, body: Array(#"{"n":1}"#.utf8))
        #expect(
            String(buffer: buffer)
                == "POST /predict?v=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
                + "X-Key: a\tb\r\nContent-Length: 7\r\n\r\n{\"n\":1}")
        let empty = try HTTP1RequestBytes.post(uri: "/", headers: HTTPHeaders(), body: [])
        #expect(String(buffer: empty) == "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    }

    @Test("names that are not tokens and values with control characters are refused, naming the header")
    func refused() {
        for (name, value) in [
            ("X-Key", "a\r\nX-Evil: 1"), ("X-Key", "a\nb"), ("X-Key", "a\u{0}b"), ("X-Key", "a\u{7F}"),
            ("X Key", "a"), ("X:Key", "a"), ("", "a"),
        ] {
            #expect(throws: HTTP1HeaderError(name: name)) {
                try HTTP1RequestBytes.post(uri: "/", headers: HTTPHeaders([(name, value)]), body: [])
            }
        }
        #expect(HTTP1RequestBytes.isFieldValue("Bearer abc/é ~"))
    }
}
