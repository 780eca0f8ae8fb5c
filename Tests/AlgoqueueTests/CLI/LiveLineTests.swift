import AlgoqueueSupport
import Foundation
import Testing

@Suite("The live line on a terminal")
struct LiveLineTests {
    /// A tmux server of its own, to run a command in a real pseudo-terminal and read its screen.
    struct Terminal {
        let socket = "algoqueue-test-\(UUID().uuidString.prefix(8))"

        func start(_ command: String) throws {
            #expect(Self.tmux(["-L", socket, "new-session", "-d", "-x", "160", "-y", "50", "-s", "t", command]) == 0)
        }

        /// Runs tmux and waits for it, with /dev/null on 0-2 and no other descriptor: the tmux server it forks lives
        /// on, and any pipe it inherited (other tests read theirs to the end) would stay open as long as it does.
        static func tmux(_ arguments: [String]) -> Int32 {
            guard let pid = try? spawnChild(["/usr/bin/tmux"] + arguments, input: .null, output: .null, error: .null)
            else { return -1 }
            return waitForChild(pid).status
        }

        /// The visible screen, one string per row, trailing blanks cut.
        func screen() async -> [String] {
            let result = try? await runProgram("/usr/bin/tmux", ["-L", socket, "capture-pane", "-p", "-t", "t"])
            return (result?.output ?? "").split(separator: "\n", omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            }
        }

        func stop() { _ = Self.tmux(["-L", socket, "kill-server"]) }
    }

    static func quoted(_ words: [String]) -> String {
        words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    }

    @Test("run --until-idle keeps one live line with a bar, the lag and an ETA under its log lines; not on a pipe")
    func runShowsLiveLine() async throws {
        let bed = try await TestBed(topic: "live", partitions: 2, delay: .milliseconds(100))
        defer { bed.cleanUp() }
        _ = try await produce((0..<300).map { numberInput($0) }, to: "live", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("live.db")
        let arguments = [
            "run", "--brokers", bed.broker.bootstrapServers, "--topic", "live", "--group", "tty", "--url",
            bed.endpoint.url, "--database", database, "--concurrency", "4", "--until-idle",
        ]
        let terminal = Terminal()
        defer { terminal.stop() }
        try terminal.start(Self.quoted([try algoqueueBinary()] + arguments) + "; echo EXIT=$?; sleep 120")
        var during: [String]?
        var final: [String] = []
        let finished = await eventually(within: .seconds(90)) {
            let screen = await terminal.screen()
            if screen.contains(where: { $0.hasPrefix("EXIT=") }) {
                final = screen
                return true
            }
            // A screen caught mid-run: a fifth to most of the rows written (the partitions' ends known by then).
            // Written rows, not consumed messages: those arrive in bursts and can pass the window between two
            // looks at a loaded machine's screen; rows come at the endpoint's pace (about 40 a second here).
            let live = screen.last { !$0.isEmpty } ?? ""
            let written = live.range(of: #"\| ok (\d+)"#, options: .regularExpression).flatMap {
                Int(live[$0].dropFirst(5))
            }
            if during == nil, live.contains("| ETA "), (60..<250).contains(written ?? 0) {
                during = screen
            }
            return false
        }
        let shown = await terminal.screen()
        #expect(finished, "\(shown.joined(separator: "\n"))")
        let running = try #require(during, "no live line seen during the run: \(final.joined(separator: "\n"))")
        let text = running.joined(separator: "\n")
        // Exactly one live line, the last row in use, below the log lines.
        #expect(running.filter { $0.contains("| ETA ") }.count == 1, "\(text)")
        let live = try #require(running.last { !$0.isEmpty })
        #expect(
            live.range(
                of: #"^\[[#.]{24}\] \d+% consumed \d+ \| ok \d+ \| errors 0 \| \d+/s \| lag \d+ \| ETA "#,
                options: .regularExpression) != nil, "\(live)")
        // The lag is measured beside the dispatch loop: mid-backlog it is the messages not yet written, not 0.
        let lag = live.range(of: #"lag (\d+)"#, options: .regularExpression).map { Int(live[$0].dropFirst(4)) ?? 0 }
        #expect((lag ?? 0) > 0, "\(live)")
        let consuming = try #require(running.firstIndex { $0.contains("info algoqueue: consuming") }, "\(text)")
        #expect(consuming < running.lastIndex(of: live)!)
        // At the end the live line is gone and the summary stands in its place.
        #expect(final.contains { $0.hasPrefix("consumed 300 message(s): 300 ok, 0 error row(s)") }, "\(final)")
        #expect(!final.contains { $0.contains("| ETA ") }, "\(final.joined(separator: "\n"))")
        #expect(final.contains("EXIT=0"))

        // On a pipe (systemd, CI, a redirect): no live line, no terminal control codes.
        let piped = try await algoqueue(
            arguments.map { $0 == "tty" ? "pipe" : $0 }, directory: bed.directory)
        #expect(piped.status == 0)
        #expect(!piped.error.contains("\u{1B}[K") && !piped.error.contains("\r") && !piped.error.contains("| ETA"))
        await bed.endpoint.stop()
    }
}
