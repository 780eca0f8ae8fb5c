import AlgoqueueSupport
import Yams

/// How one configuration value is read onto a `Root` (``Settings`` or ``AlgorithmSettings``) and shown.
struct ConfigField<Root>: Sendable {
    /// Reads `node` for `key` onto the root, reporting a bad value to the reader.
    let apply: @Sendable (inout ConfigFile.Reader, String, Node, inout Root) -> Void
    /// The current value as the README's default column shows it ("" for none).
    let render: @Sendable (Root) -> String

    static func string(_ path: WritableKeyPath<Root, String> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.string(key, node) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path] })
    }

    /// A value that may be absent; an empty string in the file means absent.
    static func optional(_ path: WritableKeyPath<Root, String?> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in
                if let value = reader.string(key, node) { root[keyPath: path] = value.isEmpty ? nil : value }
            },
            render: { $0[keyPath: path] ?? "" })
    }

    static func integer(_ path: WritableKeyPath<Root, Int> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.integer(key, node) { root[keyPath: path] = value }
            },
            render: { String($0[keyPath: path]) })
    }

    static func number(_ path: WritableKeyPath<Root, Double> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.number(key, node) { root[keyPath: path] = value }
            },
            render: { value in
                let number = value[keyPath: path]
                return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
            })
    }

    static func boolean(_ path: WritableKeyPath<Root, Bool> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.boolean(key, node) { root[keyPath: path] = value }
            },
            render: { String($0[keyPath: path]) })
    }

    static func duration(_ path: WritableKeyPath<Root, Duration> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in
                if let value = reader.duration(key, node) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path].text })
    }

    /// A duration that may be absent (its default then depends on other settings); `off` is stored as zero.
    static func optionalDuration(_ path: WritableKeyPath<Root, Duration?> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in
                if node.scalar?.string.lowercased() == "off" {
                    root[keyPath: path] = .zero
                } else if let value = reader.duration(key, node) {
                    root[keyPath: path] = value
                }
            },
            render: { $0[keyPath: path]?.text ?? "" })
    }

    /// A whole number that may be absent (no limit).
    static func optionalInteger(_ path: WritableKeyPath<Root, Int?> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.integer(key, node) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path].map(String.init) ?? "" })
    }

    /// A number that may be absent (no limit).
    static func optionalNumber(_ path: WritableKeyPath<Root, Double?> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in if let value = reader.number(key, node) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path].map { String($0) } ?? "" })
    }

    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ path: WritableKeyPath<Root, Value> & Sendable
    ) -> Self where Value.RawValue == String {
        Self(
            apply: { reader, key, node, root in
                if let value = reader.choice(key, node, Value.self) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path].rawValue })
    }

    /// A list, or one comma-separated string (one space-separated string when `splitCommas` is false).
    static func list(_ path: WritableKeyPath<Root, [String]> & Sendable, splitCommas: Bool = true) -> Self {
        Self(
            apply: { reader, key, node, root in
                if let value = reader.list(key, node, splitCommas: splitCommas) { root[keyPath: path] = value }
            },
            render: { $0[keyPath: path].joined(separator: ",") })
    }

    static func dictionary(_ path: WritableKeyPath<Root, [String: String]> & Sendable) -> Self {
        Self(
            apply: { reader, key, node, root in
                if let value = reader.dictionary(key, node) { root[keyPath: path] = value }
            },
            render: {
                $0[keyPath: path].sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            })
    }

    /// A key that is known but never read: naming it is a problem, with `message`.
    static func refused(_ message: String) -> Self {
        Self(apply: { reader, key, _, _ in reader.problems.append(ConfigProblem(key, message)) }, render: { _ in "" })
    }
}

extension ConfigField where Root == Settings {
    /// `pipeline.concurrency`: a number, or `auto` (the limit follows the endpoint).
    static var concurrency: Self {
        Self(
            apply: { reader, key, node, root in
                if node.scalar?.string.lowercased() == "auto" {
                    root.pipeline.adaptiveConcurrency = true
                } else if let value = reader.integer(key, node) {
                    root.pipeline.concurrency = value
                    root.pipeline.adaptiveConcurrency = false
                }
            },
            render: { $0.pipeline.adaptiveConcurrency ? "auto" : String($0.pipeline.concurrency) })
    }
}

/// One configuration key: its name, the `run` flag that sets it too, how it is read, and what it means.
struct ConfigKey<Root>: Sendable {
    /// The dotted name (`kafka.brokers`; `algorithm.url` for an algorithm's key).
    let name: String
    /// The flag cell of the README table, such as "`--brokers h:p,...`"; nil when only the file sets it.
    let flag: String?
    let field: ConfigField<Root>
    /// What the default column shows instead of the rendered default (for "off" and the like).
    let defaultText: String?
    let meaning: String
    /// Left out of the README table (keys that are refused).
    let hidden: Bool

    init(
        _ name: String, flag: String? = nil, _ field: ConfigField<Root>, default defaultText: String? = nil,
        _ meaning: String, hidden: Bool = false
    ) {
        self.name = name
        self.flag = flag
        self.field = field
        self.defaultText = defaultText
        self.meaning = meaning
        self.hidden = hidden
    }

    /// The name within its section (`brokers`).
    var shortName: String { String(name.split(separator: ".", maxSplits: 1).last ?? "") }
}
