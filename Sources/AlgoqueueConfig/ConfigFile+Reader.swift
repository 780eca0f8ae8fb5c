import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Yams

extension ConfigFile {
    /// Applies one key at a time, collecting problems instead of stopping at the first.
    struct Reader {
        var settings: Settings
        let environment: [String: String]
        var problems: [ConfigProblem] = []

        init(settings: Settings, environment: [String: String]) {
            self.settings = settings
            self.environment = environment
        }

        mutating func unknown(_ key: String, among known: Set<String>) {
            let suggestion = known.min { Self.distance($0, key) < Self.distance($1, key) }
            var message = "unknown key"
            if let suggestion, Self.distance(suggestion, key) <= max(2, key.count / 3) {
                message += "; did you mean \(suggestion)?"
            }
            problems.append(ConfigProblem(key, message))
        }

        mutating func apply(_ key: String, _ node: Node) {
            if key.hasPrefix("algorithm.") {
                var algorithm = settings.algorithm
                applyAlgorithm(key, String(key.dropFirst("algorithm.".count)), node, to: &algorithm)
                settings.algorithm = algorithm
            } else if let known = ConfigKeys.settingsByName[key] {
                var settings = self.settings
                known.field.apply(&self, key, node, &settings)
                // Problems were added to self meanwhile; keep them and take the new settings.
                self.settings = settings
            } else {
                problems.append(ConfigProblem(key, "is known but not handled (a bug in algoqueue)"))
            }
        }

        /// Applies `field` of one algorithm (`key` is its full name, for problems).
        mutating func applyAlgorithm(
            _ key: String, _ field: String, _ node: Node, to algorithm: inout AlgorithmSettings
        ) {
            guard let known = ConfigKeys.algorithmByField[field] else {
                problems.append(ConfigProblem(key, "is known but not handled (a bug in algoqueue)"))
                return
            }
            known.field.apply(&self, key, node, &algorithm)
        }

        /// `algorithms:`, a list of algorithm mappings (fan-out).
        mutating func readAlgorithms(_ node: Node) {
            guard let sequence = node.sequence else {
                problems.append(
                    ConfigProblem("algorithms", "must be a list of algorithms, each like the algorithm section"))
                return
            }
            var algorithms: [AlgorithmSettings] = []
            for (index, entry) in sequence.enumerated() {
                let prefix = "algorithms[\(index)]"
                guard let mapping = entry.mapping else {
                    problems.append(ConfigProblem(prefix, "must be a mapping like the algorithm section"))
                    continue
                }
                var algorithm = AlgorithmSettings()
                for (fieldNode, value) in mapping {
                    let field = fieldNode.string ?? ""
                    guard ConfigKeys.algorithmByField[field] != nil else {
                        unknown(
                            "\(prefix).\(field)", among: Set(ConfigKeys.algorithmByField.keys.map { "\(prefix).\($0)" })
                        )
                        continue
                    }
                    applyAlgorithm("\(prefix).\(field)", field, value, to: &algorithm)
                }
                algorithms.append(algorithm)
            }
            settings.algorithms = algorithms
        }

        mutating func string(_ key: String, _ node: Node) -> String? {
            guard let scalar = node.scalar else {
                problems.append(ConfigProblem(key, "must be a single value"))
                return nil
            }
            return expand(key, scalar.string)
        }

        mutating func integer(_ key: String, _ node: Node) -> Int? {
            guard let text = string(key, node) else { return nil }
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
                problems.append(ConfigProblem(key, "must be a whole number (got \"\(text)\")"))
                return nil
            }
            return value
        }

        mutating func number(_ key: String, _ node: Node) -> Double? {
            guard let text = string(key, node) else { return nil }
            guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
                problems.append(ConfigProblem(key, "must be a number (got \"\(text)\")"))
                return nil
            }
            return value
        }

        mutating func boolean(_ key: String, _ node: Node) -> Bool? {
            guard let text = string(key, node) else { return nil }
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default:
                problems.append(ConfigProblem(key, "must be true or false (got \"\(text)\")"))
                return nil
            }
        }

        mutating func duration(_ key: String, _ node: Node) -> Duration? {
            guard let text = string(key, node) else { return nil }
            guard let value = Duration(text: text) else {
                problems.append(ConfigProblem(key, "must be a duration such as 500ms, 30s, 5m (got \"\(text)\")"))
                return nil
            }
            return value
        }

        mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ node: Node, _: T.Type) -> T?
        where T.RawValue == String {
            guard let text = string(key, node) else { return nil }
            guard let value = T(rawValue: text.lowercased()) else {
                let options = T.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append(ConfigProblem(key, "must be one of \(options) (got \"\(text)\")"))
                return nil
            }
            return value
        }

        /// A list, or one comma-separated string (one space-separated string when `splitCommas` is false).
        mutating func list(_ key: String, _ node: Node, splitCommas: Bool = true) -> [String]? {
            if let sequence = node.sequence {
                var values: [String] = []
                for item in sequence {
                    guard let value = string(key, item) else { return nil }
                    values.append(value)
                }
                return values
            }
            return string(key, node).map { text in
                splitCommas
                    ? text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    : text.split(separator: " ").map(String.init)
            }
        }

        mutating func dictionary(_ key: String, _ node: Node) -> [String: String]? {
            guard let mapping = node.mapping else {
                problems.append(ConfigProblem(key, "must be a mapping of names to values"))
                return nil
            }
            var values: [String: String] = [:]
            for (name, value) in mapping {
                guard let name = name.string, let text = string("\(key).\(name)", value) else { continue }
                values[name] = text
            }
            return values
        }

        /// Replaces `${NAME}` with the environment variable NAME; a missing variable is a problem.
        mutating func expand(_ key: String, _ text: String) -> String {
            guard text.contains("${") else { return text }
            var result = ""
            var rest = Substring(text)
            while let start = rest.range(of: "${") {
                result += rest[..<start.lowerBound]
                guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                    problems.append(ConfigProblem(key, "has an unclosed ${"))
                    return text
                }
                let name = String(rest[start.upperBound..<end])
                if name.hasPrefix("credential:") {
                    let credential = String(name.dropFirst("credential:".count))
                    if let value = readCredential(credential) {
                        result += value
                    } else {
                        problems.append(
                            ConfigProblem(
                                key,
                                "uses ${\(name)}, but there is no file \(credential) in $CREDENTIALS_DIRECTORY "
                                    + "(set by systemd's LoadCredential=\(credential):PATH)"))
                    }
                } else if let value = environment[name] {
                    result += value
                } else {
                    problems.append(
                        ConfigProblem(key, "uses ${\(name)}, but the environment variable \(name) is not set"))
                }
                rest = rest[rest.index(after: end)...]
            }
            return result + rest
        }

        /// The content of a systemd credential, without its trailing line break.
        func readCredential(_ name: String) -> String? {
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !name.contains("/"),
                let data = FileManager.default.contents(atPath: directory + "/" + name)
            else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }

        /// Edit distance, for "did you mean".
        static func distance(_ a: String, _ b: String) -> Int {
            let a = Array(a)
            let b = Array(b)
            guard !a.isEmpty else { return b.count }
            guard !b.isEmpty else { return a.count }
            var previous = Array(0...b.count)
            for i in 1...a.count {
                var current = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count {
                    current[j] = min(
                        previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                previous = current
            }
            return previous[b.count]
        }
    }
}
