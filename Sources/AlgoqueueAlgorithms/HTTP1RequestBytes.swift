import NIOCore
import NIOHTTP1

/// A request line or header that cannot be sent: it would break the request's framing.
struct HTTP1HeaderError: Error, Equatable {
    /// The header's name (its value is not repeated: it may come from a message, or be a credential).
    var name: String
}

/// A plain-HTTP request encoded once, into one buffer: request line, headers, `Content-Length`, body. A connection
/// writes it as it is, in one write (the request line and the headers every call sends are encoded once per
/// algorithm); NIO's request encoder and header validator, which encoded and checked every header again for each
/// call, took about a tenth of the process's CPU with one call per message (profile). Header names must be tokens
/// and values must hold no control character but a tab (no line break that would end the header early), as NIO's
/// validator requires.
enum HTTP1RequestBytes {
    /// The request line of `POST uri` and `headers`, checked: what every call of an algorithm starts with, made once.
    static func start(uri: String, headers: [(name: String, value: String)]) throws(HTTP1HeaderError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: uri.utf8.count + 16 + headers.count * 64)
        buffer.writeStaticString("POST ")
        buffer.writeString(uri)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        for (name, value) in headers { try append(&buffer, name: name, value: value) }
        return buffer
    }

    /// One call's request: `start` (request line and fixed headers), the headers of `input`, and its body.
    static func post(start: ByteBuffer, headers: HTTPCallHeaders, input: AlgorithmInput) throws(HTTP1HeaderError)
        -> ByteBuffer
    {
        var buffer = ByteBufferAllocator().buffer(capacity: start.readableBytes + input.bytes.count + 256)
        buffer.writeImmutableBuffer(start)
        try headers.forEachInputHeader(input) { (name, value) throws(HTTP1HeaderError) in
            try append(&buffer, name: name, value: value)
        }
        finish(&buffer, body: input.bytes)
        return buffer
    }

    /// Appends `name: value` and a line break, once checked.
    private static func append(_ buffer: inout ByteBuffer, name: String, value: String) throws(HTTP1HeaderError) {
        try check(name: name, value: value)
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    /// Appends `Content-Length`, the blank line and `body`.
    private static func finish(_ buffer: inout ByteBuffer, body: [UInt8]) {
        buffer.writeStaticString("Content-Length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(body)
    }

    /// Throws when `name` is not a token or `value` holds a control character other than a tab, as NIO's validator
    /// does. Checked for every transport, so that such a header fails its call the same way over `https://`.
    static func check(name: String, value: String) throws(HTTP1HeaderError) {
        guard isToken(name), isFieldValue(value) else { throw HTTP1HeaderError(name: name) }
    }

    /// RFC 9110 `token`: visible ASCII except the delimiters.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                // " ( ) , /   : ; < = > ? @   [ \ ]   { }
                case 0x22, 0x28, 0x29, 0x2C, 0x2F, 0x3A...0x40, 0x5B...0x5D, 0x7B, 0x7D: false
                default: byte > 0x20 && byte < 0x7F
                }
            }
    }

    /// RFC 9110 `field-value`: no control character except a horizontal tab (so no CR, LF or NUL).
    static func isFieldValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { byte in (byte >= 0x20 && byte != 0x7F) || byte == 0x09 }
    }
}

/// Stands where NIO's request encoder would, before the response decoder: the exchange hands it the request's head
/// (which only the decoder needs, to know how an answer to it is framed) and the request's bytes as one body part,
/// written as they are.
final class HTTP1RequestBytesWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head, .end: promise?.succeed(())
        case .body(let bytes): context.write(wrapOutboundOut(bytes), promise: promise)
        }
    }
}
