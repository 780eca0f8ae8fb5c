import NIOCore
import NIOHTTP1

/// One request on a keep-alive HTTP/1.1 connection, and the promise its answer completes.
struct HTTP1Request: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    /// The largest answer body accepted; a larger one fails the exchange and closes the connection.
    var maxAnswerBytes: Int
    /// When the exchange fails with `HTTP1ExchangeError.timedOut` and the connection is closed.
    var deadline: NIODeadline
    var answer: EventLoopPromise<HTTP1Answer>
}

/// A whole answer: its head and body.
struct HTTP1Answer: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer
}

/// Why an exchange ended without an answer.
enum HTTP1ExchangeError: Error, Equatable {
    /// The deadline passed first.
    case timedOut
    /// The answer's body grew past `maxAnswerBytes`.
    case answerTooLarge
    /// The connection closed before the answer was complete (`answerStarted`: after its head).
    case closed(answerStarted: Bool)
    /// Could not connect before the connect timeout.
    case connectTimedOut
}

/// Sits after NIO's HTTP/1.1 client codecs: takes one `HTTP1Request` at a time, writes it, collects the answer
/// into one buffer and completes the request's promise. The deadline, an oversized answer, an error or a close
/// fail the promise and close the connection. Runs on the channel's event loop only.
final class HTTP1ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTP1Request
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: HTTP1Request?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        precondition(pending == nil, "one exchange at a time on an HTTP/1.1 connection")
        pending = request
        head = nil
        body = nil
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: request.deadline) { [self] in
            finish(.failure(HTTP1ExchangeError.timedOut))
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let request = pending else { return }
        switch unwrapInboundIn(data) {
        case .head(let answerHead):
            // 1xx heads are dropped by the decoder; this is the final one.
            head = answerHead
        case .body(var part):
            if (body?.readableBytes ?? 0) + part.readableBytes > request.maxAnswerBytes {
                finish(.failure(HTTP1ExchangeError.answerTooLarge))
                context.close(promise: nil)
            } else if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
        case .end:
            guard let answerHead = head else { return }
            finish(.success(HTTP1Answer(head: answerHead, body: body ?? ByteBuffer())))
            if !answerHead.isKeepAlive { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(HTTP1ExchangeError.closed(answerStarted: head != nil)))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder's word for a connection closed in the middle of an answer.
        let closedEarly = (error as? HTTPParserError) == .invalidEOFState
        finish(.failure(closedEarly ? HTTP1ExchangeError.closed(answerStarted: head != nil) : error))
        context.close(promise: nil)
    }

    /// Completes the pending request, if any, and forgets it.
    private func finish(_ result: Result<HTTP1Answer, any Error>) {
        guard let request = pending else { return }
        pending = nil
        head = nil
        body = nil
        timer?.cancel()
        timer = nil
        request.answer.completeWith(result)
    }
}
