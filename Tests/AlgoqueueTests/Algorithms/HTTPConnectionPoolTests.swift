import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import AlgoqueueAlgorithms

/// An HTTP/1.1 server written on raw sockets, so that it can answer the ways real servers do: keep-alive,
/// `Connection: close`, chunked, HTTP/1.0 ended by a close, cut off mid-answer, closing idle connections, never
/// answering. `POST /stats` answers how many connections it accepted and how many the client closed.
private let rawServer = #"""
    import json, socket, struct, sys, threading, time
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    print(server.getsockname()[1], flush=True)
    stats = {"connections": 0, "closed_by_client": 0, "held_requests": 0}
    lock = threading.Lock()
    released = threading.Event()

    def answer(body, extra=b""):
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
                + extra + b"\r\n" + body)

    def serve(conn):
        with lock:
            stats["connections"] += 1
        buffer = b""
        served = 0
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    with lock:
                        stats["closed_by_client"] += 1
                    return
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            path = lines[0].split(" ")[1]
            length = int(next(l.split(":", 1)[1] for l in lines[1:] if l.lower().startswith("content-length:")))
            while len(buffer) < length:
                buffer += conn.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            served += 1
            if path == "/drop-second":
                # Answers a connection's first request, then closes on the next one unanswered, as a server that
                # closes a kept-alive connection just as a request arrives on it.
                if served > 1:
                    conn.close()
                    return
                conn.sendall(answer(b'{"first": true}'))
            elif path == "/reset-second":
                # As /drop-second, but the close resets the connection (RST), so the client reads ECONNRESET.
                if served > 1:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                    return
                conn.sendall(answer(b'{"first": true}'))
            elif path == "/held":
                # The first request is answered only after POST /release; later ones at once. Counted as they come.
                with lock:
                    stats["held_requests"] += 1
                    first = stats["held_requests"] == 1
                if first:
                    released.wait(60)
                conn.sendall(answer(b'{"held": ' + body + b'}'))
            elif path == "/release":
                released.set()
                conn.sendall(answer(b'{"released": true}'))
            elif path == "/hang-second":
                # Answers a connection's first request at once and never its next ones.
                if served == 1:
                    conn.sendall(answer(b'{"first": true}'))
            elif path == "/stats":
                with lock:
                    conn.sendall(answer(json.dumps(stats).encode()))
            elif path == "/ok":
                conn.sendall(answer(b'{"echo": ' + body + b'}'))
            elif path == "/close":
                conn.sendall(answer(b'{"closed": true}', b"Connection: close\r\n"))
                conn.close()
                return
            elif path == "/chunked":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\n{\"a\":\r\n3\r\n [1\r\n4\r\n, 2]\r\n1\r\n}\r\n0\r\n\r\n")
            elif path == "/http10":
                conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"old": true}')
                conn.close()
                return
            elif path == "/redirect":
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n")
            elif path == "/big":
                conn.sendall(answer(b'"' + b"x" * 5000 + b'"'))
            elif path == "/cut":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"half")
                conn.close()
                return
            elif path == "/idle-close":
                conn.sendall(answer(b'{"soon": "closed"}'))
                time.sleep(0.05)
                conn.close()
                return
            # /hang: no answer; the next recv sees the client close.

    while True:
        connection, _ = server.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()
    """#

@Suite("HTTP connection pool against a server answering in every HTTP/1.1 way")
struct HTTPConnectionPoolTests {
    final class RawServer: Sendable {
        let program: RunningProgram
        let port: Int
        let stats: HTTPAlgorithm

        init(directory: TemporaryDirectory) async throws {
            let script = directory.file("raw_server.py")
            try rawServer.write(toFile: script, atomically: true, encoding: .utf8)
            program = try RunningProgram("/usr/bin/python3", [script], directory: directory, name: "raw-server")
            var port: Int?
            for _ in 0..<200 where port == nil {
                port = Int(program.output.trimmingCharacters(in: .whitespacesAndNewlines))
                if port == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            self.port = try #require(port, "the raw server printed no port: \(program.errorOutput)")
            stats = try HTTPAlgorithm(HTTPAlgorithmConfiguration(url: "http://127.0.0.1:\(self.port)/stats"))
        }

        func algorithm(
            _ path: String, maxConnections: Int = 8, maxAnswerBytes: Int = 1 << 20, timeout: Duration = .seconds(20)
        ) throws -> HTTPAlgorithm {
            var configuration = HTTPAlgorithmConfiguration(url: "http://127.0.0.1:\(port)\(path)")
            configuration.maxConnections = maxConnections
            configuration.maxAnswerBytes = maxAnswerBytes
            configuration.timeout = timeout
            return try HTTPAlgorithm(configuration)
        }

        /// Requests that reached `/held`.
        func heldRequests() async throws -> Int {
            let answer = try await stats.call(AlgorithmInput(json: Array("{}".utf8))).get()
            let object = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as! [String: Int]
            return object["held_requests"]!
        }

        /// Connections accepted and closed by the client, counting the stats algorithm's own one connection.
        func counts() async throws -> (connections: Int, closedByClient: Int) {
            let answer = try await stats.call(AlgorithmInput(json: Array("{}".utf8))).get()
            let object = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as! [String: Int]
            return (object["connections"]!, object["closed_by_client"]!)
        }

        func stop() async {
            await stats.shutdown()
            program.signal(SIGKILL)
            _ = await program.exitStatus(within: .seconds(10))
        }
    }

    @Test("keep-alive: sequential calls share one connection, concurrent ones at most max_connections")
    func keepAlive() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let before = try await server.counts().connections
        let sequential = try server.algorithm("/ok")
        for n in 0..<20 {
            #expect(
                try await sequential.call(AlgorithmInput(json: numberInput(n))).get().output
                    == #"{"echo": {"n": \#(n)}}"#)
        }
        #expect(try await server.counts().connections - before == 1)
        let concurrent = try server.algorithm("/ok", maxConnections: 4)
        let outputs = await withTaskGroup(of: String?.self) { group in
            for n in 0..<64 {
                group.addTask { try? await concurrent.call(AlgorithmInput(json: numberInput(n))).get().output }
            }
            return await group.reduce(into: [String]()) { if let output = $1 { $0.append(output) } }
        }
        #expect(Set(outputs) == Set((0..<64).map { #"{"echo": {"n": \#($0)}}"# }))
        let opened = try await server.counts().connections - before - 1
        #expect(opened >= 1 && opened <= 4)
        await sequential.shutdown()
        await concurrent.shutdown()
        await server.stop()
    }

    @Test(
        "Connection: close, chunked, HTTP/1.0, idle connections the server closes, a kept-alive one dropped: all work")
    func answerForms() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let closing = try server.algorithm("/close")
        let before = try await server.counts().connections
        for _ in 0..<3 {
            #expect(try await closing.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"closed": true}"#)
        }
        #expect(try await server.counts().connections - before == 3)
        let chunked = try server.algorithm("/chunked")
        #expect(try await chunked.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"a": [1, 2]}"#)
        let old = try server.algorithm("/http10")
        #expect(try await old.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"old": true}"#)
        let idleClose = try server.algorithm("/idle-close")
        for _ in 0..<3 {
            #expect(
                try await idleClose.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"soon": "closed"}"#)
            // Long enough for the server's close to arrive; the pool must not hand out the closed connection.
            try await Task.sleep(for: .milliseconds(300))
        }
        // A kept-alive connection that closes unanswered: the call goes again on a new connection, once.
        let dropping = try server.algorithm("/drop-second")
        let beforeDrops = try await server.counts().connections
        for _ in 0..<3 {
            #expect(try await dropping.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"first": true}"#)
        }
        // First call: a connection; second: dropped on it, then a new one; third: dropped, then a new one.
        #expect(try await server.counts().connections - beforeDrops == 3)
        for algorithm in [closing, chunked, old, idleClose, dropping] { await algorithm.shutdown() }
        await server.stop()
    }

    @Test("a cancelled call closes its connection; an answer cut off, too large or a redirect ends as it should")
    func failures() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let base = "http://127.0.0.1:\(server.port)"
        let hang = try server.algorithm("/hang")
        let before = try await server.counts()
        let call = Task { await hang.call(AlgorithmInput(json: numberInput(1))) }
        // Wait (bounded) until the server holds the call's connection, then cancel the call.
        var now = before
        for _ in 0..<200 {
            now = try await server.counts()
            if now.connections > before.connections { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(now.connections == before.connections + 1)
        call.cancel()
        #expect(await call.value == .failure(AlgorithmFailure(.cancelled, "call to \(base)/hang was cancelled")))
        for _ in 0..<200 {
            now = try await server.counts()
            if now.closedByClient > before.closedByClient { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // The cancelled call's connection was closed, so the model's server can stop working on it.
        #expect(now.closedByClient == before.closedByClient + 1)

        let cut = try server.algorithm("/cut")
        #expect(
            await cut.call(AlgorithmInput(json: numberInput(1)))
                == .failure(AlgorithmFailure(.transport, "\(base)/cut closed the connection before answering")))
        let big = try server.algorithm("/big", maxAnswerBytes: 1000)
        for _ in 0..<2 {
            #expect(
                await big.call(AlgorithmInput(json: numberInput(1)))
                    == .failure(
                        AlgorithmFailure(
                            .invalidAnswer,
                            "answer from \(base)/big is larger than 1000 bytes (algorithm.max_answer_bytes); "
                                + "raise it if such answers are expected")))
        }
        // Redirects are not followed: the status is the answer.
        let redirect = try server.algorithm("/redirect")
        #expect(
            await redirect.call(AlgorithmInput(json: numberInput(1)))
                == .failure(AlgorithmFailure(.status, "HTTP 302 Found from \(base)/redirect", statusCode: 302)))
        for algorithm in [cut, big, hang, redirect] { await algorithm.shutdown() }
        await server.stop()
    }

    @Test(
        "a kept-alive connection's later call still times out at its own deadline, and the connection is closed",
        .timeLimit(.minutes(1)))
    func timeoutOnReusedConnection() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let base = "http://127.0.0.1:\(server.port)"
        // One connection: the second call goes on the connection the first one kept alive. The connection's timer
        // was armed for the first call's deadline; it must still end the second call at the second deadline.
        let algorithm = try server.algorithm("/hang-second", maxConnections: 1, timeout: .seconds(5))
        #expect(try await algorithm.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"first": true}"#)
        let before = try await server.counts()
        // So that the second deadline is clearly later than the one the timer was armed for (the re-arm path).
        try await Task.sleep(for: .milliseconds(300))
        #expect(
            await algorithm.call(AlgorithmInput(json: numberInput(2)))
                == .failure(AlgorithmFailure(.timeout, "no answer from \(base)/hang-second within 5s (timeout)")))
        var now = before
        for _ in 0..<200 {
            now = try await server.counts()
            if now.closedByClient > before.closedByClient { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(now.connections == before.connections, "the second call opened a connection of its own")
        #expect(now.closedByClient == before.closedByClient + 1, "the timed-out connection stayed open")
        // The pool recovers: a third call opens a new connection, which answers its first request.
        #expect(try await algorithm.call(AlgorithmInput(json: numberInput(3))).get().output == #"{"first": true}"#)
        await algorithm.shutdown()
        await server.stop()
    }

    /// A request to `/held` on `pool`, with its own deadline.
    static func held(_ pool: HTTP1ConnectionPool, port: Int, n: Int, within timeout: TimeAmount) async throws
        -> HTTP1Answer
    {
        let headers = HTTPCallHeaders(builtIn: [("Host", "127.0.0.1:\(port)")], configured: [:])
        let bytes = try HTTP1RequestBytes.post(
            start: try HTTP1RequestBytes.start(uri: "/held", headers: headers.fixed), headers: headers,
            input: AlgorithmInput(json: numberInput(n)))
        return try await pool.execute(
            head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/held"), bytes: bytes,
            maxAnswerBytes: 1 << 20,
            deadline: .now() + timeout)
    }

    @Test(
        "a call waiting for a busy connection fails at its deadline and is never sent (the server sees one request)",
        .timeLimit(.minutes(1)))
    func waiterDeadline() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let pool = HTTP1ConnectionPool(
            host: "127.0.0.1", port: server.port, maxConnections: 1, connectTimeout: .seconds(10))
        // The first call holds the only connection until the server is told to answer.
        let first = Task { try await Self.held(pool, port: server.port, n: 1, within: .seconds(50)) }
        #expect(await eventually(within: .seconds(20)) { (try? await server.heldRequests()) == 1 })
        // The second call waits in line with a short deadline: it fails at it, without a connection of its own.
        await #expect(throws: HTTP1ExchangeError.timedOut) {
            try await Self.held(pool, port: server.port, n: 2, within: .milliseconds(300))
        }
        let release = try server.algorithm("/release")
        _ = try await release.call(AlgorithmInput(json: Array("{}".utf8))).get()
        #expect(String(buffer: try await first.value.body) == #"{"held": {"n": 1}}"#)
        // The server saw the first request only: the second was never written, not even once the line moved.
        #expect(try await server.heldRequests() == 1)
        // The connection is whole: the next call goes on it and is answered.
        #expect(
            String(buffer: try await Self.held(pool, port: server.port, n: 3, within: .seconds(10)).body)
                == #"{"held": {"n": 3}}"#)
        #expect(try await server.heldRequests() == 2)
        pool.shutdown()
        await release.shutdown()
        await server.stop()
    }

    @Test("a call takes an idle connection on another event loop rather than wait behind a busy one on its own")
    func anyIdleConnection() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let pool = HTTP1ConnectionPool(
            host: "127.0.0.1", port: server.port, maxConnections: 2, connectTimeout: .seconds(10))
        try #require(pool.executors.count == 2, "this machine has one event loop; nothing to test")
        // A connection on each loop: one call from each loop, the first held until both are open.
        let first = Task(executorPreference: pool.executors[0]) {
            try await Self.held(pool, port: server.port, n: 1, within: .seconds(50))
        }
        #expect(await eventually(within: .seconds(20)) { (try? await server.heldRequests()) == 1 })
        let second = Task(executorPreference: pool.executors[1]) {
            try await Self.held(pool, port: server.port, n: 2, within: .seconds(50))
        }
        #expect(String(buffer: try await second.value.body) == #"{"held": {"n": 2}}"#)
        // Loop 0's connection is busy, loop 1's idle: a call from loop 0 goes on loop 1's connection at once.
        let third = Task(executorPreference: pool.executors[0]) {
            try await Self.held(pool, port: server.port, n: 3, within: .seconds(50))
        }
        #expect(String(buffer: try await third.value.body) == #"{"held": {"n": 3}}"#)
        #expect(try await server.heldRequests() == 3)
        let release = try server.algorithm("/release")
        _ = try await release.call(AlgorithmInput(json: Array("{}".utf8))).get()
        #expect(String(buffer: try await first.value.body) == #"{"held": {"n": 1}}"#)
        pool.shutdown()
        await release.shutdown()
        await server.stop()
    }

    @Test("a kept-alive connection the server reset (RST) is retried once on a new connection")
    func resetConnection() async throws {
        let directory = try TemporaryDirectory()
        let server = try await RawServer(directory: directory)
        let resetting = try server.algorithm("/reset-second", maxConnections: 1)
        let before = try await server.counts().connections
        for _ in 0..<3 {
            #expect(try await resetting.call(AlgorithmInput(json: numberInput(1))).get().output == #"{"first": true}"#)
        }
        #expect(try await server.counts().connections - before == 3)
        await resetting.shutdown()
        await server.stop()
    }
}
