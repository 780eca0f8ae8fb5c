import NIOCore
import NIOPosix

/// One ``HTTP1ConnectionPool`` per event loop, sharing the connection limit. A call whose task runs on a pool's loop
/// (the executor ``executor(forWorker:)`` gave it) uses that pool: its request, its answer and the task that
/// handles the answer stay on one thread. Other callers take the least busy pool.
final class HTTP1LoopPools: Sendable {
    let pools: [HTTP1ConnectionPool]

    init(host: String, port: Int, maxConnections: Int, connectTimeout: TimeAmount) {
        var loops: [any EventLoop] = []
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { loops.append(loop) }
        let count = max(1, min(loops.count, maxConnections))
        pools = (0..<count).map { index in
            HTTP1ConnectionPool(
                host: host, port: port,
                maxConnections: maxConnections / count + (index < maxConnections % count ? 1 : 0),
                connectTimeout: connectTimeout, loop: loops[index])
        }
    }

    /// The pool of the loop the caller runs on, else the one with the fewest calls.
    var current: HTTP1ConnectionPool {
        pools.first { $0.executor.loop.inEventLoop } ?? leastBusy
    }

    /// Where call worker `worker` runs: the loops in turn, as many workers on each as its pool has connections
    /// (when there are as many workers as connections).
    func executor(forWorker worker: Int) -> any TaskExecutor {
        pools[worker % pools.count].executor
    }

    private var leastBusy: HTTP1ConnectionPool {
        pools.min { $0.calls.load(ordering: .relaxed) < $1.calls.load(ordering: .relaxed) }!
    }

    func shutdown() {
        for pool in pools { pool.shutdown() }
    }
}
