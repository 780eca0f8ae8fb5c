import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to one plain-HTTP endpoint, spread over the event loops, at most
/// `maxConnections` open, one exchange at a time on each; callers beyond that wait in line, each until its own
/// deadline. Built on swift-nio's own HTTP/1.1 codecs: one request costs a write and the answer's bytes, with no hop
/// between threads when the caller's task runs on its connection's loop (``executor(forWorker:)``).
///
/// A call takes an idle connection on its own loop if there is one, else any idle connection, else opens one (on
/// its own loop) while under the limit, else waits for the first connection to come free, whichever loop it is on.
final class HTTP1ConnectionPool: Sendable {
    let host: String
    let port: Int
    let maxConnections: Int
    /// How long connecting may take, at most (the call's own deadline can end it sooner).
    let connectTimeout: TimeAmount
    let loops: [any EventLoop]
    /// Runs a call's task on one loop, one executor per loop.
    let executors: [EventLoopTaskExecutor]
    private let state = Mutex(State())

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Lease, any Error>
        /// Fails the wait at the call's deadline.
        var expiry: Scheduled<Void>?
    }

    private struct State {
        var idle: [any Channel] = []
        /// Connections open or being opened, idle ones included.
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        /// The loop the next connection opened from outside the pool's loops goes to.
        var nextLoop = 0
        var isShutDown = false
    }

    /// What a caller may use: an idle connection, or a free slot to open one in (on this loop).
    private enum Lease: Sendable {
        case reuse(any Channel)
        case connect(any EventLoop)

        var isReuse: Bool {
            if case .reuse = self { return true }
            return false
        }
    }

    init(host: String, port: Int, maxConnections: Int, connectTimeout: TimeAmount) {
        self.host = host
        self.port = port
        self.maxConnections = max(1, maxConnections)
        self.connectTimeout = connectTimeout
        var loops: [any EventLoop] = []
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { loops.append(loop) }
        self.loops = Array(loops.prefix(self.maxConnections))
        executors = self.loops.map(EventLoopTaskExecutor.init)
    }

    /// Where call worker `worker` runs: the loops in turn, so that as many workers as connections spread evenly.
    func executor(forWorker worker: Int) -> any TaskExecutor {
        executors[worker % executors.count]
    }

    /// Sends `bytes` (a whole request, ``HTTP1RequestBytes``; `head` names its method and target) on a pooled
    /// connection and returns the whole answer. A call still waiting for a connection at its deadline fails with
    /// ``HTTP1ExchangeError/timedOut`` without being sent; no request is written after its deadline. Cancelling the
    /// task closes the connection, which ends the exchange at once.
    ///
    /// A kept-alive connection the server closed while it sat idle (its keep-alive timeout, a restart) can look
    /// open until the request is on its way; when such a reused connection fails before any of the answer arrives
    /// (closed, reset, a broken pipe on the write), the request goes once more on a new connection, within the same
    /// deadline.
    func execute(
        head: HTTPRequestHead, bytes: ByteBuffer, maxAnswerBytes: Int, deadline: NIODeadline
    ) async throws -> HTTP1Answer {
        let request = { (answer: EventLoopPromise<HTTP1Answer>) in
            HTTP1Request(head: head, bytes: bytes, maxAnswerBytes: maxAnswerBytes, deadline: deadline, answer: answer)
        }
        let lease = try await lease(deadline: deadline)
        do {
            return try await exchange(lease, deadline: deadline, request)
        } catch let error where lease.isReuse && !Task.isCancelled && HTTP1ExchangeError.isStaleConnection(error) {
            return try await exchange(
                try await self.lease(deadline: deadline, fresh: true), deadline: deadline, request)
        }
    }

    private func exchange(
        _ lease: Lease, deadline: NIODeadline, _ request: (EventLoopPromise<HTTP1Answer>) -> HTTP1Request
    ) async throws -> HTTP1Answer {
        let channel: any Channel
        switch lease {
        case .reuse(let idle):
            channel = idle
        case .connect(let loop):
            do {
                channel = try await connect(on: loop, deadline: deadline)
            } catch {
                giveBack(nil, reusable: false)
                throw error
            }
        }
        // The connection came too late to send on: it goes back unused.
        guard deadline > .now() else {
            giveBack(channel, reusable: true)
            throw HTTP1ExchangeError.timedOut
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

    /// An idle connection, a slot to open one in, or a place in line until one of those is free or `deadline`
    /// passes. `fresh`: an idle connection found at once is closed and its slot used for a new one (after a
    /// kept-alive one turned out closed, the others idle as long may be too).
    private func lease(deadline: NIODeadline, fresh: Bool = false) async throws -> Lease {
        let home = loops.first { $0.inEventLoop }
        let (taken, stale) = try state.withLock { state -> (Lease?, (any Channel)?) in
            let lease = try Self.take(&state, home: home, loops: loops, maxConnections: maxConnections)
            if fresh, case .reuse(let idle) = lease { return (.connect(home ?? idle.eventLoop), idle) }
            return (lease, nil)
        }
        stale?.close(promise: nil)
        if let taken { return taken }
        guard deadline > .now() else { throw HTTP1ExchangeError.timedOut }
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let taken: Result<Lease, any Error>? = state.withLock { state in
                    do {
                        if let lease = try Self.take(&state, home: home, loops: loops, maxConnections: maxConnections) {
                            return .success(lease)
                        }
                    } catch {
                        return .failure(error)
                    }
                    // Checked under the lock: a cancellation before this point finds no waiter to resume.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let taken {
                    continuation.resume(with: taken)
                    return
                }
                let expiry = (home ?? loops[0]).scheduleTask(deadline: deadline) { () -> Void in
                    self.removeWaiter(id)?.resume(throwing: HTTP1ExchangeError.timedOut)
                }
                // The waiter may have been served already: then its expiry has nothing left to do.
                let stillWaiting = state.withLock { state in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
                    state.waiters[index].expiry = expiry
                    return true
                }
                if !stillWaiting { expiry.cancel() }
            }
        } onCancel: {
            removeWaiter(id)?.resume(throwing: CancellationError())
        }
    }

    /// Takes waiter `id` out of the line (and cancels its expiry); nil when it is no longer waiting.
    private func removeWaiter(_ id: UInt64) -> CheckedContinuation<Lease, any Error>? {
        let waiter = state.withLock { state in
            state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
        }
        waiter?.expiry?.cancel()
        return waiter?.continuation
    }

    private static func take(
        _ state: inout State, home: (any EventLoop)?, loops: [any EventLoop], maxConnections: Int
    ) throws -> Lease? {
        if state.isShutDown { throw ChannelError.ioOnClosedChannel }
        // Closed while idle (the endpoint's keep-alive timeout): their slots are free again.
        let before = state.idle.count
        state.idle.removeAll { !$0.isActive }
        state.open -= before - state.idle.count
        if let home, let index = state.idle.lastIndex(where: { $0.eventLoop === home }) {
            return .reuse(state.idle.remove(at: index))
        }
        if let channel = state.idle.popLast() { return .reuse(channel) }
        guard state.open < maxConnections else { return nil }
        state.open += 1
        if let home { return .connect(home) }
        state.nextLoop = (state.nextLoop + 1) % loops.count
        return .connect(loops[state.nextLoop])
    }

    /// Returns `channel` to the pool when `reusable` (and still open), else closes it and frees its slot; the
    /// first waiter gets the connection or the slot.
    private func giveBack(_ channel: (any Channel)?, reusable: Bool) {
        let reusable = reusable && channel?.isActive == true
        let (kept, handOff) = state.withLock { state -> (Bool, (Waiter, Lease)?) in
            if reusable, let channel, !state.isShutDown {
                if state.waiters.isEmpty {
                    state.idle.append(channel)
                    return (true, nil)
                }
                return (true, (state.waiters.removeFirst(), .reuse(channel)))
            }
            if !state.isShutDown, !state.waiters.isEmpty {
                // The slot goes to the waiter; it connects on the loop the closed connection was on (or any).
                let loop = channel?.eventLoop ?? loops[state.nextLoop]
                return (false, (state.waiters.removeFirst(), .connect(loop)))
            }
            state.open -= 1
            return (false, nil)
        }
        if !kept { channel?.close(promise: nil) }
        if let (waiter, lease) = handOff {
            waiter.expiry?.cancel()
            waiter.continuation.resume(returning: lease)
        }
    }

    private func connect(on loop: any EventLoop, deadline: NIODeadline) async throws -> any Channel {
        let remaining = deadline - .now()
        guard remaining > .zero else { throw HTTP1ExchangeError.timedOut }
        let timeout = min(connectTimeout, remaining)
        do {
            return try await ClientBootstrap(group: loop)
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
            return (state.idle, state.waiters)
        }
        for channel in idle { channel.close(promise: nil) }
        for waiter in waiters {
            waiter.expiry?.cancel()
            waiter.continuation.resume(throwing: ChannelError.ioOnClosedChannel)
        }
    }
}
