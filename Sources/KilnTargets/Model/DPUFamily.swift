/// A DPU IP family: one product guide, one compiler back end, many configurations.
public enum DPUFamily: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Zynq UltraScale+ MPSoC (ZCU102, ZCU104, Kria KV260, Ultra96); PG338.
    case dpuczdx8g = "DPUCZDX8G"
    /// Versal AI Core, on the AI Engines (VCK190); PG389.
    case dpucvdx8g = "DPUCVDX8G"
    /// Versal AI Edge and Alveo V70 (VEK280, V70).
    case dpucv2dx8g = "DPUCV2DX8G"
    /// Alveo with HBM, high throughput (U50, U50LV, U55C, U280); PG367.
    case dpucahx8h = "DPUCAHX8H"
    /// Alveo U200 / U250 with DDR; the successor of DPUCADX8G (xDNN v3).
    case dpucadf8h = "DPUCADF8H"

    /// The IP name, `DPUCZDX8G`.
    public var description: String { rawValue }

    /// The fingerprint type code of the family.
    public var dpuType: DPUType {
        switch self {
        case .dpuczdx8g: .dpuczdx8g
        case .dpucvdx8g: .dpucvdx8g
        case .dpucv2dx8g: .dpucv2dx8g
        case .dpucahx8h: .dpucahx8h
        case .dpucadf8h: .dpucadf8h
        }
    }
}
