import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the DataMovement family.
    static let dataMovement: [OpImporter] = []
}
