/// Close matches for names and fingerprints the catalog does not hold.
extension Catalog {
    /// Up to `limit` catalog names or aliases close to `name`, closest first.
    ///
    /// Closeness is the edit distance between normalized names (a name that contains the
    /// query, or is contained in it, counts as distance 1); names further than a third of
    /// the query's length (at least 2) are left out.
    public static func suggestions(for name: String, limit: Int = 3) -> [String] {
        let query = normalized(name)
        guard !query.isEmpty else { return [] }
        let threshold = max(2, query.count / 3)
        var scored: [(distance: Int, name: String)] = []
        for architecture in architectures {
            for candidate in architecture.allNames {
                let key = normalized(candidate)
                let distance = query.count >= 3 && (key.contains(query) || query.contains(key))
                    ? 1 : editDistance(query, key)
                if distance <= threshold { scored.append((distance, candidate)) }
            }
        }
        scored.sort { ($0.distance, $0.name.count, $0.name) < ($1.distance, $1.name.count, $1.name) }
        return Array(scored.prefix(limit).map(\.name))
    }

    /// Up to `limit` entries of the fingerprint's family, closest first (fewest differing
    /// bits; entries without a public fingerprint last).
    public static func suggestions(for fingerprint: Fingerprint, limit: Int = 3) -> [DPUArchitecture] {
        guard let type = fingerprint.dpuType else { return [] }
        let family = architectures.filter { $0.family.dpuType == type }
        let ranked = family.enumerated().sorted { lhs, rhs in
            (bitDistance(lhs.element, fingerprint), lhs.offset) < (bitDistance(rhs.element, fingerprint), rhs.offset)
        }
        return Array(ranked.prefix(limit).map(\.element))
    }

    static func unknownNameMessage(_ name: String) -> String {
        let close = suggestions(for: name)
        let hint = close.isEmpty
            ? "run 'kiln targets' to list the known targets"
            : "did you mean \(close.joined(separator: ", "))?"
        return "unknown target '\(name)'; \(hint)"
    }

    static func unknownFingerprintMessage(_ fingerprint: Fingerprint) -> String {
        var message = "unknown fingerprint \(fingerprint)"
        guard let type = fingerprint.dpuType else {
            return message + " (type byte \(fingerprint.typeCode) is not a DPU type); run 'kiln targets' to list the known targets"
        }
        message += " (\(type), ISA \(fingerprint.isaVersion)"
        if type == .dpuczdx8g, fingerprint.isaVersion == 1,
            let arch = DPUCZDX8GFeatureCode(rawValue: fingerprint.featureCode).archName
        {
            message += ", \(arch)"
        }
        message += ")"
        let close = suggestions(for: fingerprint)
        guard !close.isEmpty else {
            return message + "; the catalog has no \(type) entry; run 'kiln targets' to list the known targets"
        }
        let listed = close.map { architecture -> String in
            guard let known = architecture.fingerprint else {
                return "\(architecture.name) (fingerprint not public)"
            }
            if let ours = architecture.featureCode, known.typeCode == fingerprint.typeCode,
                known.isaVersion == fingerprint.isaVersion
            {
                let differing = ours.differences(from: DPUCZDX8GFeatureCode(rawValue: fingerprint.featureCode))
                return "\(architecture.name) (\(known), differs in \(differing.joined(separator: ", ")))"
            }
            return "\(architecture.name) (\(known))"
        }
        let advice = close.contains { $0.fingerprint == nil }
            ? "; an arch.json may name the target instead: {\"target\": \"\(close[0].name)\"}"
            : ""
        return message + "; close matches: " + listed.joined(separator: ", ") + advice
    }

    /// Differing bits, or 65 for an entry without a public fingerprint.
    private static func bitDistance(_ architecture: DPUArchitecture, _ fingerprint: Fingerprint) -> Int {
        guard let known = architecture.fingerprint else { return 65 }
        return (known.rawValue ^ fingerprint.rawValue).nonzeroBitCount
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs)
        let b = Array(rhs)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
