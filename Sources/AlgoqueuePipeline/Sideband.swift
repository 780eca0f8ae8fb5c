import AlgoqueueAlgorithms
import AlgoqueueStore
import AlgoqueueSupport
import Foundation

/// Sideband data: an input may name a file in the input directory instead of carrying the data
/// (`{"$file": "name"}`, optionally with `"type": "json" | "text" | "binary"`), and outputs above a size are
/// written to files in the output directory, the row holding their path.
struct Sideband: Sendable {
    let configuration: SidebandConfiguration
    let maxInputBytes: Int
    /// `configuration.outputDirectory` made absolute against the working directory at start, so that
    /// `output_file` always holds an absolute path.
    let outputDirectory: String?

    init(configuration: SidebandConfiguration, maxInputBytes: Int) {
        self.configuration = configuration
        self.maxInputBytes = maxInputBytes
        outputDirectory = configuration.outputDirectory.map(Self.absolute)
    }

    /// `path` made absolute against the working directory, with `.` and `..` components resolved lexically.
    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "/" + (lexicallyNormalized(full) ?? []).joined(separator: "/")
    }

    /// The components of `path` with empty and `.` components dropped and each `..` removing the one before;
    /// nil when a `..` would lead above the start.
    static func lexicallyNormalized(_ path: String) -> [Substring]? {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                guard components.popLast() != nil else { return nil }
            default: components.append(component)
            }
        }
        return components
    }

    /// `input` with a file reference replaced by the file's content; unchanged when it references no file.
    /// The error is a sentence for the error row. The file is read on ``BlockingWork``'s queue.
    func resolve(_ input: AlgorithmInput) async -> Result<AlgorithmInput, SidebandFailure> {
        guard input.contentType == .json, Self.mayReferenceFile(input.bytes) else { return .success(input) }
        return await BlockingWork.run { readReference(input) }
    }

    /// ``resolve(_:)``, blocking.
    func readReference(_ input: AlgorithmInput) -> Result<AlgorithmInput, SidebandFailure> {
        guard input.contentType == .json, Self.mayReferenceFile(input.bytes),
            let members = JSONSyntax.objectMembers(input.bytes),
            let reference = members.first(where: { $0.name == "$file" })?.value
        else { return .success(input) }
        guard let name = JSONSyntax.stringValue(input.bytes[reference]), !name.isEmpty else {
            return .failure(SidebandFailure("\"$file\" must name a file as a string"))
        }
        guard let directory = configuration.inputDirectory else {
            return .failure(
                SidebandFailure("the input references the file \"\(name)\", but sideband.input_dir is not set"))
        }
        var type = Self.defaultType(name)
        if let typeRange = members.first(where: { $0.name == "type" })?.value {
            guard let text = JSONSyntax.stringValue(input.bytes[typeRange]),
                let chosen = InputContentType(rawValue: text)
            else {
                return .failure(SidebandFailure("\"type\" must be json, text or binary"))
            }
            type = chosen
        }
        let path: String
        switch Self.path(of: name, in: directory) {
        case .success(let resolved): path = resolved
        case .failure(let failure): return .failure(failure)
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? Int
        else {
            return .failure(SidebandFailure("\"\(name)\" in the input directory is not a regular file"))
        }
        guard size <= maxInputBytes else {
            return .failure(
                SidebandFailure(
                    "the file \"\(name)\" is \(size) bytes, above the limit of \(maxInputBytes) bytes "
                        + "(pipeline.max_input_bytes); use a smaller file or raise the limit"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(SidebandFailure("cannot read the file \"\(name)\" in the input directory"))
        }
        let bytes = [UInt8](data)
        switch type {
        case .json:
            do {
                try JSONSyntax.validate(bytes)
            } catch {
                return .failure(SidebandFailure("the file \"\(name)\" is not valid JSON: \(error)"))
            }
        case .text:
            if let bad = InputDecoder.firstInvalidUTF8Offset(bytes) {
                return .failure(SidebandFailure("the file \"\(name)\" is not UTF-8 text (bad byte at offset \(bad))"))
            }
        case .binary: break
        }
        return .success(AlgorithmInput(bytes: bytes, contentType: type, key: input.key, source: input.source))
    }

    /// The real path of `name` inside `directory`, refusing anything that leads outside it (absolute paths, a
    /// `..` above the directory, symbolic links pointing out). `sub/../ok.json` is `ok.json`; `.` is the directory.
    static func path(of name: String, in directory: String) -> Result<String, SidebandFailure> {
        let escape = SidebandFailure(
            "the file \"\(name)\" is outside the input directory (sideband.input_dir); only files inside it can be read"
        )
        guard !name.hasPrefix("/"), !name.contains("\0"), let components = lexicallyNormalized(name) else {
            return .failure(escape)
        }
        guard let base = realPath(directory) else {
            return .failure(SidebandFailure("the input directory \(directory) (sideband.input_dir) does not exist"))
        }
        guard let resolved = realPath(([base] + components.map(String.init)).joined(separator: "/")) else {
            return .failure(SidebandFailure("there is no file \"\(name)\" in the input directory"))
        }
        guard resolved == base || resolved.hasPrefix(base.hasSuffix("/") ? base : base + "/") else {
            return .failure(escape)
        }
        return .success(resolved)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// A cheap test before parsing: an object whose text contains `"$file"`.
    static func mayReferenceFile(_ bytes: [UInt8]) -> Bool {
        guard bytes.first(where: { !JSONSyntax.isWhitespace($0) }) == UInt8(ascii: "{") else { return false }
        let needle = Array(#""$file""#.utf8)
        guard bytes.count >= needle.count else { return false }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if bytes[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// JSON for `.json` files, text for common text extensions, bytes otherwise.
    static func defaultType(_ name: String) -> InputContentType {
        let suffix = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch suffix {
        case "json": return .json
        case "txt", "text", "csv", "tsv", "md": return .text
        default: return .binary
        }
    }

    /// Writes `output` to a file when it is above the inline limit and an output directory is set; returns the
    /// path (nil when the output stays in the row). The file is written and synced on ``BlockingWork``'s queue.
    func storeOutput(_ output: String, of row: ResultRow) async -> Result<String?, SidebandFailure> {
        guard let directory = outputDirectory, output.utf8.count > configuration.maxInlineOutputBytes else {
            return .success(nil)
        }
        return await BlockingWork.run { writeOutput(output, of: row, to: directory) }
    }

    /// ``storeOutput(_:of:)``'s file, blocking.
    func writeOutput(_ output: String, of row: ResultRow, to directory: String) -> Result<String?, SidebandFailure> {
        let safe = { (text: String) in
            String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        }
        let name = "\(safe(row.topic))-\(row.partition)-\(row.offset)-\(row.item)-\(safe(row.algorithm)).json"
        let path = (directory as NSString).appendingPathComponent(name)
        let temporary = path + ".partial"
        let descriptor = open(temporary, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            return .failure(
                SidebandFailure(
                    "cannot write the output to \(path) (sideband.output_dir): \(String(cString: strerror(errno)))"))
        }
        guard writeAll(descriptor, Array(output.utf8)) else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            unlink(temporary)
            return .failure(SidebandFailure("cannot write the output to \(path) (sideband.output_dir): \(reason)"))
        }
        fsync(descriptor)
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            return .failure(SidebandFailure("cannot write the output to \(path): \(String(cString: strerror(errno)))"))
        }
        return .success(path)
    }
}

/// Why sideband data could not be used, as a sentence for the error row.
struct SidebandFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
