import Foundation

/// Reads a file (or standard input) line by line in chunks, so a large input file is never held whole.
struct LineReader {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var start = 0
    /// Where the search for the next line break goes on: bytes before it hold none (a long line is scanned once).
    var searched = 0
    var finished = false
    /// Bytes read from the file so far (for progress).
    private(set) var bytesRead = 0

    init(path: String) throws {
        if path == "-" {
            handle = .standardInput
        } else {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ValidationErrorText("cannot read \(path): no such file or not readable")
            }
            self.handle = handle
        }
    }

    /// The next line without its line break (and without a trailing carriage return), or nil at the end.
    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer[max(start, searched)...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<newline])
                start = newline + 1
                searched = start
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            searched = buffer.count - start
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { finished = true } else { buffer.append(contentsOf: chunk) }
            bytesRead += chunk.count
        }
    }
}

/// An error whose description is just its text.
struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
