/// The one error type Kiln throws across module boundaries.
///
/// It prints as one line, `error[KILN-2002]: [Foo] node 'n1' (opset 13): …`, leading
/// with the op when there is one. Tests assert ``code``, never the message text.
public struct KilnError: Error, Sendable, CustomStringConvertible {
    /// The stable error class.
    public var code: ErrorCode
    /// What broke and, where possible, what to do about it.
    public var message: String
    /// Where in the file the error was raised (`#fileID:#line`), for debugging.
    public var location: String

    /// Creates an error.
    public init(
        _ code: ErrorCode, _ message: String, fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    /// `error[KILN-2002]: message`, on one line.
    public var description: String {
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "error[\(code)]: \(oneLine)"
    }
}
