import Foundation
import Testing

@Suite("Operations: the status page")
struct StatusPageTests {
    /// Headless Debian chromium, as a person's browser: it runs the page's script, which reads /api/status.
    static func chromium(_ arguments: [String], profile: String) async throws -> (status: Int32, output: String) {
        let result = try await runProgram(
            "/usr/bin/chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(profile)",
                "--virtual-time-budget=5000",
            ] + arguments)
        return (result.status, result.output)
    }

    /// The text of the element with `id` in a dumped DOM.
    static func text(of id: String, in dom: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\""), let end = dom[start.upperBound...].firstIndex(of: ">") else {
            return nil
        }
        return String(dom[dom.index(after: end)...].prefix { $0 != "<" })
    }

    @Test("a real browser renders the page during a run; its numbers are the store's; /api/status says the same")
    func pageInABrowser() async throws {
        let bed = try await TestBed(topic: "status", partitions: 2)
        defer { bed.cleanUp() }
        var values = (0..<40).map { Optional(numberInput($0)) }
        values += (0..<5).map { _ in Optional(Array("{broken".utf8)) }
        _ = try await produce(values, to: "status", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("status.db")
        let service = try RunningProgram(
            try algoqueueBinary(),
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "status", group: "status", url: bed.endpoint.url,
                database: database) + ["--metrics-listen", "127.0.0.1:0"],
            directory: bed.directory, name: "status")
        let base = try await statusPageURL(of: service)
        // Every row written and the lag measured at 0 (the tick runs every second).
        let settled = await eventually(within: .seconds(60)) {
            guard let body = await httpGet(base + "/api/status")?.body,
                let status = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            else { return false }
            return status["consumed"] as? Int == 45 && status["lag"] as? Int == 0
                && (status["partitions"] as? [Any])?.count == 2
        }
        #expect(settled, "\(service.errorOutput.suffix(800))")

        let page = try #require(await httpGet(base + "/"))
        #expect(page.status == 200)
        #expect(page.body.contains("<title>algoqueue</title>"))
        #expect(
            !page.body.contains("http://") && !page.body.contains("https://"), "the page loads nothing from outside")

        let dom = try await Self.chromium(["--dump-dom", base + "/"], profile: bed.directory.file("chromium"))
        #expect(dom.status == 0)
        let ok = try await sqlite3(database, "SELECT COUNT(*) FROM results WHERE status = 'ok'")
        let errors = try await sqlite3(database, "SELECT COUNT(*) FROM results WHERE status = 'error'")
        #expect(ok == ["40"] && errors == ["5"])
        #expect(Self.text(of: "consumed", in: dom.output) == "45", "\(dom.output.prefix(2000))")
        #expect(Self.text(of: "ok", in: dom.output) == ok.first)
        #expect(Self.text(of: "errors", in: dom.output) == errors.first)
        #expect(Self.text(of: "lag", in: dom.output) == "0")
        #expect(Self.text(of: "readiness", in: dom.output) == "ready")
        // The last errors name their inputs' coordinates, as the store has them.
        let failed = try await sqlite3(
            database, "SELECT topic || '/' || partition || '/' || offset FROM results WHERE status = 'error'")
        for coordinates in failed {
            #expect(dom.output.contains("<td>\(coordinates)</td>"), "\(coordinates) is not among the last errors")
        }
        #expect(
            dom.output.contains(
                "<tr><td>http</td><td>40</td><td>5</td><td>closed</td><td>none</td><td>no</td><td class=\"error\"></td></tr>"
            ))
        // What runs where: version, group, topic, database and uptime in the header; calls in flight in the detail;
        // the chart's axes, in UTC like the logs.
        let about = try #require(Self.text(of: "about", in: dom.output))
        #expect(about.hasPrefix("0.1.0 · group status · status · \(database) · up "), "\(about)")
        #expect(about.hasSuffix(" UTC)"))
        let detail = try #require(Self.text(of: "detail", in: dom.output))
        #expect(detail.contains("0 call(s) in flight of a limit of 4"), "\(detail)")
        #expect(Self.text(of: "ymax", in: dom.output)?.hasSuffix(" rows/s") == true)
        #expect(Self.text(of: "xend", in: dom.output)?.hasSuffix(" UTC") == true)
        let status = try #require(await httpGet(base + "/api/status")?.body)
        for key in ["\"version\":\"0.1.0\"", "\"group\":\"status\"", "\"calls_in_flight\":0", "\"uptime_seconds\":"] {
            #expect(status.contains(key), "\(key) in \(status.prefix(600))")
        }

        let screenshot = bed.directory.file("status.png")
        let shot = try await Self.chromium(
            ["--window-size=1280,900", "--screenshot=\(screenshot)", base + "/"],
            profile: bed.directory.file("chromium"))
        #expect(shot.status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
        if let keep = ProcessInfo.processInfo.environment["ALGOQUEUE_SCREENSHOT"] {
            try png.write(to: URL(fileURLWithPath: keep))
        }
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        await bed.endpoint.stop()
    }

    @Test("the listener stays on loopback unless --metrics-allow-remote says otherwise")
    func loopbackUnlessAllowed() async throws {
        let bed = try await TestBed(topic: "remote", partitions: 1)
        defer { bed.cleanUp() }
        let arguments = runArguments(
            brokers: bed.broker.bootstrapServers, topic: "remote", group: "remote", url: bed.endpoint.url,
            database: bed.directory.file("remote.db"))
        let refused = try await algoqueue(
            arguments + ["--metrics-listen", "0.0.0.0:0"], directory: bed.directory)
        #expect(refused.status == 78)
        #expect(refused.error.contains("0.0.0.0:0 is not a loopback address"), "\(refused.error)")
        #expect(refused.error.contains("--metrics-allow-remote"))
        let allowed = try RunningProgram(
            try algoqueueBinary(), arguments + ["--metrics-listen", "0.0.0.0:0", "--metrics-allow-remote"],
            directory: bed.directory, name: "allowed")
        let base = try await statusPageURL(of: allowed)
        #expect(
            await eventually(within: .seconds(30)) { await httpGet(base + "/healthz")?.status == 200 },
            "\(allowed.errorOutput.suffix(800))")
        allowed.signal(SIGTERM)
        #expect(await allowed.exitStatus(within: .seconds(30)) == 0)
        await bed.endpoint.stop()
    }
}
