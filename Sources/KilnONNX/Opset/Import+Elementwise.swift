import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the Elementwise family.
    static let elementwise: [OpImporter] = []
}
