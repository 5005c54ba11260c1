import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the NN family.
    static let nn: [OpImporter] = []
}
