import AlgoqueueSupport
import Foundation
import Glibc
import Testing

/// A port on 127.0.0.1 where nothing listens, for as long as it is held: a socket bound to it that does not listen.
///
/// Connections to it are refused, and no other socket can take the port meanwhile (it is bound without
/// SO_REUSEADDR). A port found free and released at once can be taken by a broker or endpoint that another
/// test starts in between; an address meant to have no broker then had one.
struct ClosedPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0, bindLoopback(socket, port: 0) == 0 else {
            if socket >= 0 { Foundation.close(socket) }
            throw ValidationFailure("cannot bind a socket on 127.0.0.1")
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        descriptor = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Gives the port back.
    func close() { Foundation.close(descriptor) }
}

/// The base URL on loopback (`http://127.0.0.1:PORT`) of the status page that `service`, started with
/// `--metrics-listen HOST:0`, bound; read from its log once it says so.
///
/// Port 0 lets the service pick a free port as it binds. A port found free beforehand may be taken by another
/// test before the service binds it.
func statusPageURL(of service: RunningProgram, saying marker: String = "status page on http://") async throws -> String
{
    @Sendable func port() -> Int? {
        let log = service.errorOutput
        guard let start = log.range(of: marker)?.upperBound else { return nil }
        let address = log[start...].prefix { $0 != "/" }
        return address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) }
    }
    _ = await eventually(within: .seconds(60)) { port() != nil }
    let bound = try #require(port(), "no status page in the log: \(service.errorOutput.suffix(800))")
    return "http://127.0.0.1:\(bound)"
}
