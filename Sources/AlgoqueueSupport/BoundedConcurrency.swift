/// Runs `operation` for every element, at most `limit` at once, and hands each result to `collect` as it
/// completes (in completion order, on the calling task). Elements are taken from `elements` only as room frees
/// up, so a lazy sequence (lines of a large file) is never read ahead by more than `limit`.
public func forEachConcurrently<Elements: Sequence, Result: Sendable>(
    _ elements: Elements, limit: Int, _ operation: @escaping @Sendable (Elements.Element) async -> Result,
    collect: (Result) -> Void
) async where Elements.Element: Sendable {
    await withTaskGroup(of: Result.self) { group in
        var running = 0
        for element in elements {
            if running >= max(1, limit), let result = await group.next() {
                collect(result)
                running -= 1
            }
            group.addTask { await operation(element) }
            running += 1
        }
        for await result in group { collect(result) }
    }
}
