import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Yams

/// Reads the YAML configuration file onto ``Settings``: every known key is applied, every unknown key or
/// bad value becomes a ``ConfigProblem`` (all of them reported at once, with a "did you mean" for typos).
public enum ConfigFile {
    /// The keys each section accepts (from ``ConfigKeys``).
    static var sections: [String: Set<String>] { ConfigKeys.sections }

    /// Loads `path` over `base`, returning the settings and every problem found in the file. Check
    /// ``Settings/problems()`` too once flags are applied: flags may fix what the file leaves out.
    public static func load(
        _ path: String, over base: Settings = Settings(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> (Settings, [ConfigProblem]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return (base, [ConfigProblem("file", "cannot read \(path): no such file or not readable")])
        }
        return parse(String(decoding: data, as: UTF8.self), over: base, environment: environment)
    }

    /// Applies YAML `text` over `base`, returning the settings and every problem found.
    public static func parse(
        _ text: String, over base: Settings = Settings(), environment: [String: String] = [:]
    ) -> (Settings, [ConfigProblem]) {
        var reader = Reader(settings: base, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return (base, [ConfigProblem("file", "not valid YAML: \(error)")])
        }
        guard let root else { return (base, []) }
        guard let mapping = root.mapping else {
            return (base, [ConfigProblem("file", "the top level must be a mapping of sections (kafka, algorithm, …)")])
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            guard let known = sections[key] else {
                reader.unknown(key, among: Set(sections.keys))
                continue
            }
            if key == "algorithms" {
                reader.readAlgorithms(value)
                continue
            }
            guard let section = value.mapping else {
                reader.problems.append(ConfigProblem(key, "must be a mapping of settings"))
                continue
            }
            for (fieldNode, fieldValue) in section {
                let field = fieldNode.string ?? ""
                guard known.contains(field) else {
                    reader.unknown("\(key).\(field)", among: Set(known.map { "\(key).\($0)" }))
                    continue
                }
                reader.apply("\(key).\(field)", fieldValue)
            }
        }
        return (reader.settings, reader.problems)
    }
}
