import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the Control family.
    static let control: [OpImporter] = []
}
