import AlgoqueueSupport
import ArgumentParser

/// The `algoqueue` command.
@main
struct Algoqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algoqueue",
        abstract: "Turn any model endpoint into a Kafka batch-prediction worker.",
        discussion: """
            algoqueue consumes inputs from Kafka topics, hands each to an algorithm, and writes every answer, \
            result or error, as a row in a SQLite results store. Offsets move only after the rows are durable.

            An algorithm is an HTTP JSON endpoint (--url), an Algorithmia-style owner/name/version API \
            (algorithm.kind: algorithmia), or a pool of local worker processes speaking JSON lines \
            (algorithm.kind: process); several at once fan each input out (algorithms: in the configuration).

            Try the whole flow on embedded defaults:
              algoqueue demo

            Run against your own Kafka and endpoint:
              algoqueue run --brokers kafka:9092 --topic inputs \\
                  --url http://127.0.0.1:8080/predict --database results.db
              sqlite3 results.db "SELECT status, COUNT(*) FROM results GROUP BY status"

            Exit codes: 0 success, 1 runtime failure (store not writable, Kafka failed), \
            64 bad command line, 65 bad input data (publish) or too many error rows (run --max-errors), \
            69 a job's endpoint stayed unavailable (run --until-idle), 78 bad configuration.
            """,
        version: AlgoqueueVersion.current,
        subcommands: [
            RunCommand.self, DemoCommand.self, DevBrokerCommand.self, PublishCommand.self, ResultsCommand.self,
            ReplayCommand.self, CollectCommand.self,
            StatsCommand.self, GroupCommand.self, CheckConfigCommand.self,
            MigrateCommand.self,
        ]
    )

    /// Caps malloc's arenas (see `MallocArenas`) while the main thread is the only one, so that no thread has made
    /// an arena of its own yet, then parses and runs the command.
    static func main() async {
        MallocArenas.limit()
        await main(nil)
    }
}

/// Exit codes shared by the subcommands (from sysexits.h where one fits).
enum ExitCodes {
    static let failure = ExitCode(1)
    static let usage = ExitCode(64)
    static let dataError = ExitCode(65)
    static let unavailable = ExitCode(69)
    static let configError = ExitCode(78)
}
