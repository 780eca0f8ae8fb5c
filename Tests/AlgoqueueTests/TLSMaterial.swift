import AlgoqueueHTTPServer
import Foundation
import NIOSSL

/// A certificate authority, a server certificate for 127.0.0.1 and a client certificate, made with `openssl` when
/// a test first asks (once per test process), for HTTPS endpoints on loopback.
struct TLSMaterial: Sendable {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var serverCertificateFile: String { directory + "/server.pem" }
    var serverKeyFile: String { directory + "/server.key" }
    var clientCertificateFile: String { directory + "/client.pem" }
    var clientKeyFile: String { directory + "/client.key" }

    /// Made once; every test of the process shares it.
    static let shared: Task<TLSMaterial, any Error> = Task { try await make() }

    static func make() async throws -> TLSMaterial {
        let directory = NSTemporaryDirectory() + "algoqueue-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let material = TLSMaterial(directory: directory)
        func openssl(_ arguments: [String]) async throws {
            let result = try await runProgram("/usr/bin/openssl", arguments)
            guard result.status == 0 else {
                throw ValidationFailure("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.error)")
            }
        }
        try await openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=algoqueue test CA",
            "-keyout", directory + "/ca.key", "-out", material.caFile,
        ])
        for (name, extensions) in [
            ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            try extensions.write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
            try await openssl([
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=algoqueue test \(name)",
                "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr",
            ])
            try await openssl([
                "x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", material.caFile, "-CAkey",
                directory + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", "\(directory)/\(name).ext",
                "-out", "\(directory)/\(name).pem",
            ])
        }
        return material
    }

    /// The server side: its certificate, and with `clientCertificates` a demand for a client certificate signed
    /// by the test CA (mutual TLS).
    func server(clientCertificates: Bool = false) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCertificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKeyFile, format: .pem)))
        if clientCertificates {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return tls
    }
}
