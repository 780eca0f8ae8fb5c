import Foundation
import Testing

@Suite("Memory: malloc arenas")
struct MallocArenaTests {
    @Test("run keeps glibc's malloc to two arenas; MALLOC_ARENA_MAX set by the user wins")
    func arenas() async throws {
        let bed = try await TestBed(topic: "arenas", partitions: 2)
        defer { bed.cleanUp() }
        _ = try await produce((0..<200).map { numberInput($0) }, to: "arenas", brokers: bed.broker.bootstrapServers)
        let standard = try await heapsWhileRunning(bed, name: "standard", environment: [:])
        let chosen = try await heapsWhileRunning(bed, name: "chosen", environment: ["MALLOC_ARENA_MAX": "8"])
        // Besides the main heap, one arena of its own; with the user's 8, the threads get more of them.
        #expect(standard <= 1)
        #expect(chosen > 1)
        await bed.endpoint.stop()
    }

    /// Runs the service until its 200 rows are written, then counts its arena heaps and stops it.
    func heapsWhileRunning(_ bed: TestBed, name: String, environment: [String: String]) async throws -> Int {
        let database = bed.directory.file("\(name).db")
        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", bed.broker.bootstrapServers, "--topic", "arenas", "--group", name,
                "--url", bed.endpoint.url, "--database", database, "--concurrency", "8",
            ], directory: bed.directory, name: name, environment: environment)
        // Before its first start has made the table, sqlite3 fails: that is not yet, not an error.
        let written = await eventually(within: .seconds(60)) {
            (try? await runProgram("/usr/bin/sqlite3", [database, "SELECT COUNT(*) FROM results"]))?.output == "200\n"
        }
        #expect(written, "\(service.errorOutput.suffix(800))")
        let heaps = Self.arenaHeaps(ofProcess: service.pid)
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        return heaps
    }

    /// The heaps of glibc's malloc arenas other than the main one: anonymous read-write mappings that start on a
    /// 64 MiB boundary and span 64 MiB with the reserved (inaccessible) part that follows them (glibc's
    /// `HEAP_MAX_SIZE` on 64-bit machines).
    static func arenaHeaps(ofProcess pid: Int32) -> Int {
        let heapSize: UInt64 = 64 << 20
        guard let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return -1 }
        let regions = maps.split(separator: "\n").compactMap { line -> (start: UInt64, end: UInt64, perms: String)? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 5 else { return nil }  // a sixth field is a path: not anonymous
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16)
            else { return nil }
            return (start, end, String(fields[1]))
        }
        var count = 0
        for (index, region) in regions.enumerated() where region.perms == "rw-p" && region.start % heapSize == 0 {
            let end =
                index + 1 < regions.count && regions[index + 1].start == region.end
                    && regions[index + 1].perms == "---p" ? regions[index + 1].end : region.end
            if end - region.start == heapSize { count += 1 }
        }
        return count
    }
}
