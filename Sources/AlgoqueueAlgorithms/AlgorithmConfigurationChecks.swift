import AlgoqueueSupport
import Foundation

/// The checks of each algorithm configuration: `check-config` and `run` report them (through the settings), and
/// each algorithm's `init` refuses a configuration that has any, so the two can never disagree.
public enum CallLimits {
    /// The longest call timeout accepted.
    public static let maxTimeout: Duration = .seconds(50 * 60)
    /// The call timeout (and a worker's start-up timeout) unless configured: 300 seconds.
    public static let defaultTimeout: Duration = .seconds(300)
    /// The largest answer accepted unless configured: 16 MiB.
    public static let defaultMaxAnswerBytes = 16 << 20
    /// How long opening a connection to an endpoint may take: 10 seconds.
    public static let connectTimeout: Duration = .seconds(10)

    static func problems(timeout: Duration, maxAnswerBytes: Int) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if timeout <= .zero || timeout > maxTimeout {
            problems.append(
                FieldProblem("timeout", "must be between 1ms and \(maxTimeout.text) (got \(timeout.text))"))
        }
        if maxAnswerBytes < 1 { problems.append(FieldProblem("max_answer_bytes", "must be at least 1")) }
        return problems
    }

    /// A problem with `url` unless it is an absolute http:// or https:// URL with a host.
    static func urlProblem(_ url: String, field: String = "url") -> FieldProblem? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = parsed.host, !host.isEmpty
        else {
            return FieldProblem(
                field, "\"\(url)\" is not an http:// or https:// URL with a host, such as http://127.0.0.1:8080/predict"
            )
        }
        return nil
    }
}

extension AlgorithmConfigurationError {
    /// The first of `problems` for the algorithm `name`, or nil when there is none.
    init?(_ name: String, _ problems: [FieldProblem]) {
        guard let first = problems.first else { return nil }
        self.init("algorithm \(name): \(first.field): \(first.message)")
    }
}

extension HTTPAlgorithmConfiguration {
    /// Everything wrong with this configuration (empty: `HTTPAlgorithm(self)` accepts it).
    public func problems() -> [FieldProblem] {
        [CallLimits.urlProblem(url)].compactMap { $0 }
            + CallLimits.problems(timeout: timeout, maxAnswerBytes: maxAnswerBytes) + tlsProblems() + protocolProblems()
    }

    /// The protocol's settings: a template that is JSON with a place for the input, a pointer that is one.
    func protocolProblems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        let settings = protocolSettings
        if modelProtocol == .template {
            if let template = settings.requestTemplate {
                let marks = [#""{{input}}""#, #""{{inputs}}""#]
                let filled = marks.reduce(template) { $0.replacingOccurrences(of: $1, with: "null") }
                if !marks.contains(where: template.contains) {
                    problems.append(
                        FieldProblem(
                            "request_template",
                            #"has no place for the input: write "{{input}}" (or "{{inputs}}" for a list)"#))
                } else if (try? JSONSyntax.validate(Array(filled.utf8))) == nil {
                    problems.append(FieldProblem("request_template", "is not JSON: \(template.prefix(80))"))
                }
            } else {
                problems.append(
                    FieldProblem("request_template", #"protocol template needs one, such as {"data": "{{input}}"}"#))
            }
        }
        if !settings.responsePointer.isEmpty, !settings.responsePointer.hasPrefix("/") {
            problems.append(
                FieldProblem(
                    "response_pointer", "\"\(settings.responsePointer)\" is not a JSON pointer (such as /data/0)"))
        }
        return problems
    }

    /// The TLS files: each must exist, a client certificate needs its key (and the other way round), and they
    /// apply to `https://` only.
    func tlsProblems() -> [FieldProblem] {
        let files = [("tls_ca_file", tlsCAFile), ("tls_cert_file", tlsCertificateFile), ("tls_key_file", tlsKeyFile)]
        var problems: [FieldProblem] = []
        let given = files.filter { $0.1 != nil }
        if !given.isEmpty, URL(string: url)?.scheme?.lowercased() != "https" {
            problems.append(FieldProblem(given[0].0, "applies to https:// URLs only; the URL is \(url)"))
        }
        for case (let field, let path?) in files where !FileManager.default.isReadableFile(atPath: path) {
            problems.append(FieldProblem(field, "\(path) does not exist or cannot be read"))
        }
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            problems.append(
                FieldProblem(
                    tlsCertificateFile == nil ? "tls_cert_file" : "tls_key_file",
                    "mutual TLS needs both tls_cert_file and tls_key_file"))
        }
        return problems
    }
}

extension AlgorithmiaConfiguration {
    /// Everything wrong with this configuration (empty: `AlgorithmiaAlgorithm(self)` accepts it). The API key is
    /// not checked here: where it comes from is the caller's business.
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        let parts = algorithm.split(separator: "/", omittingEmptySubsequences: false)
        if !(2...3).contains(parts.count) || !parts.allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) }) {
            problems.append(
                FieldProblem("algo", "\"\(algorithm)\" is not owner/name/version (such as nlp/Sentiment/1.0.0)"))
        }
        if let problem = CallLimits.urlProblem(baseURL) { problems.append(problem) }
        return problems + CallLimits.problems(timeout: timeout, maxAnswerBytes: maxAnswerBytes)
    }
}

extension ProcessPoolConfiguration {
    /// Everything wrong with this configuration, the command looked up on `path` (a `PATH` value) as the pool
    /// will start it (empty: the pool can start).
    public func problems(path: String?) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if let program = command.first {
            let directory = FileManager.default.currentDirectoryPath
            let relative = program.hasPrefix("/") ? "" : " (relative to the working directory \(directory))"
            if Self.executable(program, path: path) == nil {
                problems.append(
                    FieldProblem(
                        "command",
                        program.contains("/")
                            ? "\(program) is not an executable file\(relative)"
                            : "\(program) is not found on PATH (give its full path)"))
            } else if let script = Self.script(of: command), !FileManager.default.fileExists(atPath: script) {
                problems.append(
                    FieldProblem(
                        "command",
                        "\(program)'s script \(script) does not exist"
                            + (script.hasPrefix("/")
                                ? ""
                                : " in the working directory \(directory) (run resolves it there: give an absolute "
                                    + "path, or run algoqueue from that script's directory; with systemd, set WorkingDirectory=)")
                    ))
            }
        } else {
            problems.append(
                FieldProblem("command", "give the worker program and its arguments, such as [python3, worker.py]"))
        }
        if workers < 1 { problems.append(FieldProblem("workers", "must be at least 1")) }
        if startupTimeout <= .zero || startupTimeout > CallLimits.maxTimeout {
            problems.append(
                FieldProblem(
                    "startup_timeout",
                    "must be between 1ms and \(CallLimits.maxTimeout.text) (got \(startupTimeout.text))"))
        }
        return problems + CallLimits.problems(timeout: timeout, maxAnswerBytes: maxAnswerBytes)
    }

    /// The script an interpreter (python3, node, bash, ...) is told to run: its first argument, when that is not an
    /// option (`python3 -m module` names none).
    static func script(of command: [String]) -> String? {
        guard command.count >= 2, !command[1].hasPrefix("-") else { return nil }
        let program = (command[0] as NSString).lastPathComponent
        let interpreters = ["node", "nodejs", "ruby", "perl", "bash", "sh", "zsh", "Rscript", "julia", "php", "lua"]
        let isPython = program.hasPrefix("python") && program.dropFirst(6).allSatisfy { $0.isNumber || $0 == "." }
        return isPython || interpreters.contains(program) ? command[1] : nil
    }

    /// The executable `program` names: a path (with a `/`) as is, a bare name looked up on `path`.
    public static func executable(_ program: String, path: String?) -> String? {
        let files = FileManager.default
        if program.contains("/") { return files.isExecutableFile(atPath: program) ? program : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
