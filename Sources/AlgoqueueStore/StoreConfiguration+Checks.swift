import AlgoqueueSupport

extension StoreConfiguration {
    /// Everything wrong with these settings, under the `store.` keys.
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if path.isEmpty { problems.append(FieldProblem("store.path", "give the SQLite file to write")) }
        if maxSize < 0 { problems.append(FieldProblem("store.max_size", "must be 0 (no limit) or a size in bytes")) }
        return problems
    }
}
