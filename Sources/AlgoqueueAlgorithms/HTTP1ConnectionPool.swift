import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to one plain-HTTP endpoint on one event loop, at most `maxConnections` open, one
/// exchange at a time on each; callers beyond that wait in line. Built on swift-nio's own HTTP/1.1 codecs: one
/// request costs a write and the answer's bytes, with no hop between threads when the caller's task runs on the
/// pool's loop (``executor``).
final class HTTP1ConnectionPool: Sendable {
    let host: String
    let port: Int
    let maxConnections: Int
    /// How long connecting may take, at most (the call's own deadline can end it sooner).
    let connectTimeout: TimeAmount
    private let group: any EventLoopGroup
    /// Runs a call's task on the loop this pool's connections live on.
    let executor: EventLoopTaskExecutor
    /// Calls under way or waiting in this pool.
    let calls = Atomic(0)
    private let state = Mutex(State())

    private struct State {
        var idle: [any Channel] = []
        /// Connections open or being opened, idle ones included.
        var open = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Lease, any Error>)] = []
        var nextWaiter: UInt64 = 0
        var isShutDown = false
    }

    /// What a caller may use: an idle connection, or a free slot to open one in.
    private enum Lease: Sendable {
        case reuse(any Channel)
        case connect

        var isReuse: Bool {
            if case .reuse = self { return true }
            return false
        }
    }

    init(host: String, port: Int, maxConnections: Int, connectTimeout: TimeAmount, loop: any EventLoop) {
        self.host = host
        self.port = port
        self.maxConnections = max(1, maxConnections)
        self.connectTimeout = connectTimeout
        group = loop
        executor = EventLoopTaskExecutor(loop)
    }

    /// Sends `bytes` (a whole request, ``HTTP1RequestBytes``; `head` names its method and target) on a pooled
    /// connection and returns the whole answer. Cancelling the task closes the connection, which ends the exchange
    /// at once.
    ///
    /// A kept-alive connection the server closed while it sat idle (its keep-alive timeout, a restart) can look
    /// open until the request is on its way; when such a reused connection closes before any of the answer
    /// arrives, the request goes once more on a new connection, within the same deadline.
    func execute(
        head: HTTPRequestHead, bytes: ByteBuffer, maxAnswerBytes: Int, deadline: NIODeadline
    ) async throws -> HTTP1Answer {
        let request = { (answer: EventLoopPromise<HTTP1Answer>) in
            HTTP1Request(head: head, bytes: bytes, maxAnswerBytes: maxAnswerBytes, deadline: deadline, answer: answer)
        }
        calls.add(1, ordering: .relaxed)
        defer { calls.subtract(1, ordering: .relaxed) }
        let lease = try await lease()
        do {
            return try await exchange(lease, deadline: deadline, request)
        } catch HTTP1ExchangeError.closed(answerStarted: false) where lease.isReuse && !Task.isCancelled {
            return try await exchange(try await self.lease(fresh: true), deadline: deadline, request)
        }
    }

    private func exchange(
        _ lease: Lease, deadline: NIODeadline, _ request: (EventLoopPromise<HTTP1Answer>) -> HTTP1Request
    ) async throws -> HTTP1Answer {
        let channel: any Channel
        switch lease {
        case .reuse(let idle):
            channel = idle
        case .connect:
            do {
                channel = try await connect(deadline: deadline)
            } catch {
                giveBack(nil, reusable: false)
                throw error
            }
        }
        let answer = channel.eventLoop.makePromise(of: HTTP1Answer.self)
        let sent = request(answer)
        do {
            let result = try await withTaskCancellationHandler {
                channel.writeAndFlush(sent).whenFailure { answer.fail($0) }
                return try await answer.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            giveBack(channel, reusable: result.head.isKeepAlive)
            return result
        } catch {
            giveBack(channel, reusable: false)
            throw error
        }
    }

    /// An idle connection, a slot to open one in, or a place in line until one of those is free. `fresh`: an idle
    /// connection found at once is closed and its slot used for a new one (after a kept-alive one turned out closed,
    /// the others idle as long may be too).
    private func lease(fresh: Bool = false) async throws -> Lease {
        let (taken, stale) = try state.withLock { state -> (Lease?, (any Channel)?) in
            let lease = try Self.take(&state, maxConnections: maxConnections)
            if fresh, case .reuse(let idle) = lease { return (.connect, idle) }
            return (lease, nil)
        }
        stale?.close(promise: nil)
        if let taken { return taken }
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let taken: Result<Lease, any Error>? = state.withLock { state in
                    do {
                        if let lease = try Self.take(&state, maxConnections: maxConnections) { return .success(lease) }
                    } catch {
                        return .failure(error)
                    }
                    // Checked under the lock: a cancellation before this point finds no waiter to resume.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let taken { continuation.resume(with: taken) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private static func take(_ state: inout State, maxConnections: Int) throws -> Lease? {
        if state.isShutDown { throw ChannelError.ioOnClosedChannel }
        while let channel = state.idle.popLast() {
            if channel.isActive { return .reuse(channel) }
            // Closed while idle (the endpoint's keep-alive timeout): its slot is free again.
            state.open -= 1
        }
        guard state.open < maxConnections else { return nil }
        state.open += 1
        return .connect
    }

    /// Returns `channel` to the pool when `reusable` (and still open), else closes it and frees its slot; the
    /// first waiter gets the connection or the slot.
    private func giveBack(_ channel: (any Channel)?, reusable: Bool) {
        let reusable = reusable && channel?.isActive == true
        let (kept, handOff) = state.withLock { state -> (Bool, (CheckedContinuation<Lease, any Error>, Lease)?) in
            if reusable, let channel, !state.isShutDown {
                if state.waiters.isEmpty {
                    state.idle.append(channel)
                    return (true, nil)
                }
                return (true, (state.waiters.removeFirst().continuation, .reuse(channel)))
            }
            if !state.isShutDown, !state.waiters.isEmpty {
                return (false, (state.waiters.removeFirst().continuation, .connect))
            }
            state.open -= 1
            return (false, nil)
        }
        if !kept { channel?.close(promise: nil) }
        if let (continuation, lease) = handOff { continuation.resume(returning: lease) }
    }

    private func connect(deadline: NIODeadline) async throws -> any Channel {
        let remaining = deadline - .now()
        guard remaining > .zero else { throw HTTP1ExchangeError.timedOut }
        let timeout = min(connectTimeout, remaining)
        do {
            return try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // NIO's response decoder, without its request encoder: requests come encoded. The decoder is
                        // set up by NIO's own function (building its generic handler here crashed once in the Swift
                        // runtime's type lookup, when two loops connected at once), then the encoder is taken out.
                        let handlers = channel.pipeline.syncOperations
                        try handlers.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                        _ = handlers.removeHandler(context: try handlers.context(handlerType: HTTPRequestEncoder.self))
                        try handlers.addHandler(HTTP1RequestBytesWriter(), position: .first)
                        try handlers.addHandler(HTTP1ExchangeHandler())
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch ChannelError.connectTimeout {
            throw timeout < connectTimeout ? HTTP1ExchangeError.timedOut : HTTP1ExchangeError.connectTimedOut
        }
    }

    /// Closes idle connections; connections in use close when their exchange ends; waiters fail.
    func shutdown() {
        let (idle, waiters) = state.withLock { state in
            state.isShutDown = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters.map(\.continuation))
        }
        for channel in idle { channel.close(promise: nil) }
        for waiter in waiters { waiter.resume(throwing: ChannelError.ioOnClosedChannel) }
    }
}
