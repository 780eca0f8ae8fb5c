import Glibc
import NIOCore
import NIOHTTP1

/// One request on a keep-alive HTTP/1.1 connection, and the promise its answer completes.
struct HTTP1Request: Sendable {
    /// The request's method and target, for the response decoder (its headers are in `bytes`).
    var head: HTTPRequestHead
    /// The whole request as it goes on the wire (``HTTP1RequestBytes``).
    var bytes: ByteBuffer
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
    /// Whether `error` says a reused connection was already closed by the server before any of the answer came:
    /// closed, reset (ECONNRESET) or a broken pipe (EPIPE) on the write, or written to after it closed.
    static func isStaleConnection(_ error: any Error) -> Bool {
        if let error = error as? HTTP1ExchangeError { return error == .closed(answerStarted: false) }
        if let error = error as? IOError { return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE }
        if let error = error as? ChannelError { return error == .ioOnClosedChannel || error == .alreadyClosed }
        return false
    }

    /// The deadline passed first.
    case timedOut
    /// The answer's body grew past `maxAnswerBytes`.
    case answerTooLarge
    /// The connection closed before the answer was complete (`answerStarted`: after its head).
    case closed(answerStarted: Bool)
    /// Could not connect before the connect timeout.
    case connectTimedOut
}

/// Sits after NIO's HTTP/1.1 response decoder and ``HTTP1RequestBytesWriter``: takes one `HTTP1Request` at a time,
/// writes it, collects the answer into one buffer and completes the request's promise. The deadline, an oversized
/// answer, an error or a close fail the promise and close the connection. Runs on the channel's event loop only.
final class HTTP1ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTP1Request
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: HTTP1Request?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    /// One timer per connection, not one per exchange: it stays armed across exchanges and, when it fires before
    /// the pending exchange's deadline, re-arms for that deadline. Scheduling and cancelling a timer for every
    /// call cost a few percent of an event loop's time.
    private var timer: (scheduled: Scheduled<Void>, at: NIODeadline)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        precondition(pending == nil, "one exchange at a time on an HTTP/1.1 connection")
        // No request goes on the wire after its deadline (the caller looked just before; this is the last look).
        guard request.deadline > .now() else {
            request.answer.fail(HTTP1ExchangeError.timedOut)
            promise?.succeed()
            return
        }
        pending = request
        head = nil
        body = nil
        // A timer that fires no later than this deadline stays: it re-arms for this one when it fires.
        let armedInTime = timer.map { $0.at <= request.deadline } ?? false
        if !armedInTime {
            timer?.scheduled.cancel()
            arm(context: context, at: request.deadline)
        }
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(request.bytes))), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Bytes with no request waiting for them: the connection is out of step with its server; it goes.
        guard let request = pending else {
            context.close(promise: nil)
            return
        }
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
        timer?.scheduled.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// Arms the timer for `deadline`: then the pending exchange, if its own deadline has passed, fails and the
    /// connection closes; an exchange with a later deadline re-arms it; with none pending the timer rests.
    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let request = pending else { return }
            if request.deadline <= .now() {
                finish(.failure(HTTP1ExchangeError.timedOut))
                context.close(promise: nil)
            } else {
                arm(context: context, at: request.deadline)
            }
        }
        timer = (scheduled, deadline)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder's word for a connection closed in the middle of an answer.
        let closedEarly =
            (error as? HTTPParserError) == .invalidEOFState
            || HTTP1ExchangeError.isStaleConnection(error) && !(error is HTTP1ExchangeError)
        finish(.failure(closedEarly ? HTTP1ExchangeError.closed(answerStarted: head != nil) : error))
        context.close(promise: nil)
    }

    /// Completes the pending request, if any, and forgets it.
    private func finish(_ result: Result<HTTP1Answer, any Error>) {
        guard let request = pending else { return }
        pending = nil
        head = nil
        body = nil
        request.answer.completeWith(result)
    }
}
