import KilnCore

/// A parsed `Einsum` equation such as `"bij,bjk->bik"` or `"...ii->...i"`.
///
/// Letters are labels (case-sensitive); `...` stands for the same number of leading
/// broadcast axes in every term that has it. Without `->` the output is every letter
/// that appears exactly once, in ASCII order, after the ellipsis axes.
///
/// ```swift
/// let equation = try EinsumEquation.parse("ij,jk")
/// let (inputs, output) = try equation.resolve(ranks: [2, 2])   // output labels of "ik"
/// ```
package struct EinsumEquation: Hashable, Sendable {
    /// One symbol of a term.
    package enum Symbol: Hashable, Sendable {
        /// A label (`a`–`z`, `A`–`Z`).
        case letter(Character)
        /// `...`: the broadcast axes.
        case ellipsis
    }

    /// The input terms.
    package var inputs: [[Symbol]]
    /// The explicit output term, or `nil` for the implicit form.
    package var output: [Symbol]?

    /// Parses an equation.
    ///
    /// - Throws: `unsupportedAttribute` for malformed equations (unknown characters, two
    ///   ellipses in a term, repeated or unknown output letters).
    package static func parse(_ text: String) throws -> EinsumEquation {
        let compact = text.filter { $0 != " " }
        var sides = [compact]
        if let arrow = compact.firstRange(of: "->") {
            sides = [String(compact[..<arrow.lowerBound]), String(compact[arrow.upperBound...])]
            guard !sides[1].contains("->") else { throw malformed(text, "more than one '->'") }
        }
        let inputs = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map {
            try term(String($0), equation: text)
        }
        var output: [Symbol]?
        if sides.count == 2 {
            let symbols = try term(sides[1], equation: text)
            let letters = symbols.compactMap { symbol -> Character? in
                if case .letter(let letter) = symbol { return letter }
                return nil
            }
            guard Set(letters).count == letters.count else { throw malformed(text, "an output letter repeats") }
            let used = Set(inputs.joined())
            for letter in letters where !used.contains(.letter(letter)) {
                throw malformed(text, "output letter '\(letter)' appears in no input")
            }
            output = symbols
        }
        return EinsumEquation(inputs: inputs, output: output)
    }

    private static func term(_ text: String, equation: String) throws -> [Symbol] {
        var symbols: [Symbol] = []
        var rest = Substring(text)
        while let character = rest.first {
            if rest.hasPrefix("...") {
                guard !symbols.contains(.ellipsis) else { throw malformed(equation, "two ellipses in one term") }
                symbols.append(.ellipsis)
                rest = rest.dropFirst(3)
            } else if character.isASCII && character.isLetter {
                symbols.append(.letter(character))
                rest = rest.dropFirst()
            } else {
                throw malformed(equation, "unexpected character '\(character)'")
            }
        }
        return symbols
    }

    private static func malformed(_ equation: String, _ reason: String) -> KilnError {
        KilnError(.unsupportedAttribute, "Einsum equation '\(equation)' is not supported: \(reason)")
    }

    /// Label numbers for each input's axes and for the output, given the input ranks.
    /// Letters are labelled by their ASCII value; ellipsis axes by `1000 + i`, aligned
    /// from the right across terms (so a term with fewer ellipsis axes broadcasts).
    ///
    /// - Throws: `shapeMismatch` when the number of inputs or a rank does not fit.
    package func resolve(ranks: [Int]) throws -> (inputs: [[Int]], output: [Int]) {
        guard ranks.count == inputs.count else {
            throw KilnError(.shapeMismatch, "Einsum equation has \(inputs.count) terms for \(ranks.count) inputs")
        }
        var ellipsisRanks: [Int] = []
        for (symbols, rank) in zip(inputs, ranks) {
            let letters = symbols.filter { $0 != .ellipsis }.count
            let hasEllipsis = symbols.contains(.ellipsis)
            guard hasEllipsis ? rank >= letters : rank == letters else {
                throw KilnError(.shapeMismatch, "Einsum term of \(letters) letters\(hasEllipsis ? " and '...'" : "") does not fit rank \(rank)")
            }
            ellipsisRanks.append(rank - letters)
        }
        let broadcastRank = ellipsisRanks.max() ?? 0
        func labels(_ symbols: [Symbol], ellipsisRank: Int) -> [Int] {
            symbols.flatMap { symbol -> [Int] in
                switch symbol {
                case .letter(let letter): [Int(letter.asciiValue ?? 0)]
                case .ellipsis: ((broadcastRank - ellipsisRank)..<broadcastRank).map { 1000 + $0 }
                }
            }
        }
        let inputLabels = zip(inputs, ellipsisRanks).map { labels($0, ellipsisRank: $1) }
        let outputSymbols: [Symbol]
        if let output {
            outputSymbols = output
        } else {
            var counts: [Character: Int] = [:]
            for case .letter(let letter) in inputs.joined() { counts[letter, default: 0] += 1 }
            let once = counts.filter { $0.value == 1 }.keys.sorted { ($0.asciiValue ?? 0) < ($1.asciiValue ?? 0) }
            outputSymbols = (broadcastRank > 0 ? [.ellipsis] : []) + once.map { .letter($0) }
        }
        return (inputLabels, labels(outputSymbols, ellipsisRank: broadcastRank))
    }
}
