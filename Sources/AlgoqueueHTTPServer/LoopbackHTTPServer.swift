import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request as the handler sees it: method, path (with query), headers and the whole body.
public struct LoopbackHTTPRequest: Sendable {
    /// `GET`, `POST`, …
    public var method: String
    /// The request target, such as `/predict?x=1`.
    public var uri: String
    /// Headers as sent.
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A reply: status, headers and body.
public struct LoopbackHTTPReply: Sendable {
    /// The status code.
    public var status: Int
    /// Extra headers (Content-Length is added).
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a reply.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON reply.
    public static func json(_ status: Int, _ text: String) -> LoopbackHTTPReply {
        LoopbackHTTPReply(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }
}

/// A reply due after a delay, and what to do when it is due (before it is written).
public struct TimedReply: Sendable {
    /// The reply.
    public var reply: LoopbackHTTPReply
    /// How long after the request the reply is written.
    public var delay: Duration
    /// Runs on the event loop when the delay has passed, just before the reply is written.
    public var whenDue: (@Sendable () -> Void)?

    /// Creates a timed reply.
    public init(_ reply: LoopbackHTTPReply, after delay: Duration = .zero, whenDue: (@Sendable () -> Void)? = nil) {
        self.reply = reply
        self.delay = delay
        self.whenDue = whenDue
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 that answers every request with an async handler: it serves the
/// built-in demo algorithm and stands in for real model endpoints in tests.
public final class LoopbackHTTPServer: Sendable {
    /// Handles one request.
    public typealias Handler = @Sendable (LoopbackHTTPRequest) async -> LoopbackHTTPReply
    /// Handles one request on the connection's event loop, at once, and says when to write the reply: a model that
    /// takes a fixed time, without the hops to a task and back (the benchmark's latency-bound endpoint).
    public typealias TimedHandler = @Sendable (LoopbackHTTPRequest) -> TimedReply

    let channel: any Channel
    /// The port it listens on.
    public let port: Int
    let scheme: String

    private init(channel: any Channel, port: Int, scheme: String) {
        self.channel = channel
        self.port = port
        self.scheme = scheme
    }

    /// The base URL, `http://127.0.0.1:PORT` (`https://` when it serves TLS).
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// The largest request body read by default; a larger one is answered 413 without being kept. Default: 64 MiB.
    public static let defaultMaxBodyBytes = 64 << 20

    /// Starts listening on `host` (default 127.0.0.1; `port` 0 picks a free one). With `tls`, it serves HTTPS
    /// (with a `trustRoots` and certificate verification in it, it asks for client certificates: mutual TLS).
    /// A request body larger than `maxBodyBytes` is answered 413 and never held in memory.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration? = nil,
        maxBodyBytes: Int = defaultMaxBodyBytes, handler: @escaping Handler
    ) async throws -> LoopbackHTTPServer {
        try await start(host: host, port: port, tls: tls, maxBodyBytes: maxBodyBytes, answering: .async(handler))
    }

    /// Starts listening, answering with `handler` on the event loop (see ``TimedHandler``).
    public static func start(host: String = "127.0.0.1", port: Int = 0, timed handler: @escaping TimedHandler)
        async throws -> LoopbackHTTPServer
    {
        try await start(host: host, port: port, tls: nil, maxBodyBytes: defaultMaxBodyBytes, answering: .timed(handler))
    }

    private static func start(
        host: String, port: Int, tls: TLSConfiguration?, maxBodyBytes: Int, answering handler: RequestHandler.Answering
    ) async throws -> LoopbackHTTPServer {
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(handler: handler, maxBodyBytes: maxBodyBytes))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return LoopbackHTTPServer(
            channel: channel, port: channel.localAddress?.port ?? port, scheme: tls == nil ? "http" : "https")
    }

    /// Stops listening and closes the listening socket.
    public func stop() async {
        try? await channel.close()
    }
}

/// Collects one request at a time and writes the handler's reply on the channel's event loop.
private final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum Answering: Sendable {
        case async(LoopbackHTTPServer.Handler)
        case timed(LoopbackHTTPServer.TimedHandler)
    }

    let handler: Answering
    let maxBodyBytes: Int
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    /// The body outgrew `maxBodyBytes`: the rest is read and dropped, and the answer is 413.
    var tooLarge = false

    init(handler: Answering, maxBodyBytes: Int) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(let buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > maxBodyBytes {
                tooLarge = true
                body = []
            } else {
                body.append(contentsOf: buffer.readableBytesView)
            }
        case .end:
            guard let head else { return }
            if tooLarge {
                let reply = LoopbackHTTPReply.json(
                    413, #"{"error": "the request body is larger than \#(maxBodyBytes) bytes"}"#)
                write(reply, version: head.version, keepAlive: head.isKeepAlive, context: context)
                return
            }
            let request = LoopbackHTTPRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            let keepAlive = head.isKeepAlive
            let version = head.version
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            switch handler {
            case .async(let handler):
                let promise = context.eventLoop.makePromise(of: LoopbackHTTPReply.self)
                promise.completeWithTask { await handler(request) }
                promise.futureResult.whenSuccess { reply in
                    let (this, context) = bound.value
                    this.write(reply, version: version, keepAlive: keepAlive, context: context)
                }
            case .timed(let handler):
                let timed = handler(request)
                let due = {
                    timed.whenDue?()
                    let (this, context) = bound.value
                    this.write(timed.reply, version: version, keepAlive: keepAlive, context: context)
                }
                if timed.delay > .zero {
                    let (seconds, attoseconds) = timed.delay.components
                    context.eventLoop.scheduleTask(
                        in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000), due)
                } else {
                    due()
                }
            }
        }
    }

    func write(_ reply: LoopbackHTTPReply, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(reply.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let status = HTTPResponseStatus(statusCode: reply.status)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
