/// Node-test cases of supported ops that Kiln skips on purpose. Every entry says why.
enum NodeConformanceSkips {
    static let table: [String: String] = [:]
}
