import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Limits and sideband data")
struct LimitsAndSidebandTests {
    @Test("file inputs come from the input directory only; large outputs go to files; oversize inputs are refused")
    func sideband() async throws {
        let bed = try await TestBed(topic: "side", partitions: 1)
        defer { bed.cleanUp() }
        let inputs = bed.directory.file("inputs")
        let outputs = bed.directory.file("outputs")
        for directory in [inputs, outputs, inputs + "/nested"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try #"{"n": 21}"#.write(toFile: inputs + "/nested/case.json", atomically: true, encoding: .utf8)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x00]).write(to: URL(fileURLWithPath: inputs + "/image.png"))
        try "secret".write(toFile: bed.directory.file("outside.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: inputs + "/sneaky.txt", withDestinationPath: bed.directory.file("outside.txt"))
        try String(repeating: "x", count: 300).write(toFile: inputs + "/big.txt", atomically: true, encoding: .utf8)

        // The endpoint answers a JSON input with twice its n, bytes with their count, and "big" with a long answer.
        let server = try await LoopbackHTTPServer.start { request in
            let type = request.header("Content-Type") ?? ""
            if !type.hasPrefix("application/json") {
                return .json(200, #"{"type": "\#(type)", "bytes": \#(request.body.count)}"#)
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            if object["big"] as? Bool == true {
                return .json(200, #"{"text": "\#(String(repeating: "y", count: 2000))"}"#)
            }
            return .json(200, #"{"doubled": \#((object["n"] as? Int ?? 0) * 2)}"#)
        }
        let values = [
            #"{"$file": "nested/case.json"}"#,  // 0: JSON read from the file
            #"{"$file": "image.png"}"#,  // 1: bytes
            #"{"$file": "../outside.txt"}"#,  // 2: escapes with ..
            #"{"$file": "/etc/passwd"}"#,  // 3: absolute
            #"{"$file": "sneaky.txt"}"#,  // 4: a symbolic link pointing out
            #"{"$file": "missing.json"}"#,  // 5: no such file
            #"{"$file": "big.txt"}"#,  // 6: above max_input_bytes (200)
            #"{"big": true}"#,  // 7: the answer goes to a file
            #"{"n": 1, "pad": "\#(String(repeating: "p", count: 250))"}"#,  // 8: the message itself is too big
            #"{"$file": "nested/../nested/case.json"}"#,  // 9: `..` that stays inside
            #"{"$file": "."}"#,  // 10: the directory itself
            #"{"$file": "nested/../../outside.txt"}"#,  // 11: `..` that leads out
        ]
        _ = try await produce(values.map { Array($0.utf8) }, to: "side", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["side"], group: "g", database: bed.directory.file("r.db"),
            url: server.baseURL)
        harness.maxInputBytes = 200
        harness.sideband.inputDirectory = inputs
        // Relative to the working directory, as a user's `--output-dir out` is; rows hold the absolute path.
        let upward = String(
            repeating: "../", count: FileManager.default.currentDirectoryPath.split(separator: "/").count)
        harness.sideband.outputDirectory = upward + outputs.dropFirst()
        harness.sideband.maxInlineOutputBytes = 1000
        _ = try await harness.runUntilIdle()
        let rows = try await sqlite3(
            harness.database, "SELECT offset, status, COALESCE(output, error), output_file FROM results ORDER BY offset"
        )
        #expect(rows.count == values.count)
        #expect(rows[0] == #"0|ok|{"doubled": 42}|"#)
        #expect(rows[1] == #"1|ok|{"type": "application/octet-stream", "bytes": 5}|"#)
        let outside = #"is outside the input directory (sideband.input_dir); only files inside it can be read|"#
        #expect(rows[2] == #"2|error|the file "../outside.txt" "# + outside)
        #expect(rows[3] == #"3|error|the file "/etc/passwd" "# + outside)
        #expect(rows[4] == #"4|error|the file "sneaky.txt" "# + outside)
        #expect(rows[5] == #"5|error|there is no file "missing.json" in the input directory|"#)
        #expect(
            rows[6].hasPrefix(
                #"6|error|the file "big.txt" is 300 bytes, above the limit of 200 bytes (pipeline.max_input_bytes)"#))
        let file = outputs + "/side-0-7--1-doubler.json"
        #expect(rows[7] == "7|ok||\(file)")
        #expect(try String(contentsOfFile: file, encoding: .utf8).count == 2000 + 12)
        #expect(
            rows[8].hasPrefix("8|error|the input is 269 bytes, above the limit of 200 bytes (pipeline.max_input_bytes)")
        )
        #expect(rows[9] == #"9|ok|{"doubled": 42}|"#)
        #expect(rows[10] == #"10|error|"." in the input directory is not a regular file|"#)
        #expect(rows[11] == #"11|error|the file "nested/../../outside.txt" "# + outside)
        await server.stop()
    }
}
