import Glibc

/// glibc's malloc gives each new thread an arena of its own, up to eight per core, and keeps what is freed in each of
/// them: with librdkafka's threads, the event loops, the task pool and the poll thread, that is up to sixteen arenas
/// on two cores, each holding its own high-water mark. Two arenas took the peak resident set of a 200 000-message
/// backlog from 108-111 MB to 101-106 MB at the same rate (one arena: 95 MB, about 7% slower).
public enum MallocArenas {
    /// The number of arenas `algoqueue` allows.
    static let standard: Int32 = 2

    /// Caps the arenas created from now on at ``standard``, unless `MALLOC_ARENA_MAX` is set (glibc has then
    /// applied it).
    public static func limit() {
        guard getenv("MALLOC_ARENA_MAX") == nil,
            let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")  // RTLD_DEFAULT
        else { return }
        // mallopt is declared in <malloc.h>, which the Glibc module leaves out: it is looked up by name.
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(arenaMaxParameter, standard)
    }

    /// `M_ARENA_MAX` in glibc's <malloc.h>.
    static let arenaMaxParameter: Int32 = -8
}
