/// Keeps the DPU's shifts inside the ranges its compiler accepts by moving fix positions,
/// and writes one line per move (Vitis AI's `refine` module: `adjust_shift_cut`,
/// `adjust_shift_bias`, `adjust_shift_read`, `adjust_shift_write`, `adjust_hard_sigmoid`,
/// `adjust_shift_swish`; ranges in `docs/dpu-arithmetic.md`).
///
/// Activations move as a group (values that share a position, e.g. a concat's inputs and
/// output). The rules run in Vitis AI's order and repeat until nothing moves, at most
/// ``maxRounds`` times, since one move can push another shift out of range.
struct DPUConstraints {
    /// Rounds before giving up (Vitis AI: 5).
    static let maxRounds = 5
    /// `shift_cut = p_in + p_w − p_out` (conv, gemm).
    static let shiftCut = 0...16
    /// The upper bound of `shift_bias = p_in + p_w − p_bias`; the lower is
    /// `min(0, −(24 − (8 + shift_cut)))`, or 0 before a LeakyReLU.
    static let shiftBiasMax = 15
    /// `shift_read = p_in − min(p_in)` (add).
    static let shiftReadMax = 7
    /// `shift_write = min(p_in) − p_out` (add).
    static let addShiftWrite = -7...25
    /// `shift_write = Σ p_in − p_out` (mul).
    static let mulShiftWrite = 0...32
    /// Hard-sigmoid / hard-swish input position.
    static let hardSigmoidInput = 0...15
    /// Hard-sigmoid output position lower bound.
    static let hardSigmoidOutputMin = 7
    /// `shift_hswish = p_in + 7 − p_out` (Vitis AI `shift_swish`).
    static let shiftSwish = 0...15
    /// The smallest ReLU6 output position at which the DPU's clamp at 96 is 6.
    static let relu6OutputMin = 4

    private let groups: PositionGroups
    /// Positions of activation groups, by representative.
    private(set) var groupPositions: [String: Int]
    /// Positions of constants, by name.
    private(set) var constantPositions: [String: Int]
    /// One line per move.
    private(set) var log: [String] = []
    /// Group representatives and constants that moved.
    private(set) var moved: Set<String> = []
    private var changed = false

    init(groups: PositionGroups, groupPositions: [String: Int], constantPositions: [String: Int]) {
        self.groups = groups
        self.groupPositions = groupPositions
        self.constantPositions = constantPositions
    }

    /// The fix position of a value (activation or constant).
    func position(_ name: String) -> Int {
        constantPositions[name] ?? groupPositions[groups.root(name)] ?? FixPositions.allZero
    }

    private mutating func move(_ name: String, to position: Int, _ why: String) {
        let old = self.position(name)
        guard old != position else { return }
        if constantPositions[name] != nil {
            constantPositions[name] = position
            moved.insert(name)
        } else {
            groupPositions[groups.root(name)] = position
            moved.insert(groups.root(name))
        }
        changed = true
        log.append("\(why): '\(name)' fix position \(old) → \(position)")
    }

    /// Applies every rule until no position moves; returns whether all shifts are in range.
    mutating func enforce(_ layers: [LayerQuantization], relu6Outputs: [String]) -> Bool {
        for _ in 0..<Self.maxRounds {
            changed = false
            for name in relu6Outputs where position(name) < Self.relu6OutputMin {
                move(
                    name, to: Self.relu6OutputMin,
                    "ReLU6 output below position \(Self.relu6OutputMin) (the DPU clamps at 96)")
            }
            for layer in layers where layer.kind == .add { adjustAdd(layer) }
            for layer in layers where layer.kind == .mul { adjustMul(layer) }
            for layer in layers where layer.kind == .conv || layer.kind == .gemm { adjustShiftCut(layer) }
            for layer in layers where layer.kind == .conv || layer.kind == .gemm { adjustShiftBias(layer) }
            for layer in layers where layer.kind == .hardSigmoid || layer.kind == .hardSwish {
                adjustHardSigmoid(layer)
            }
            if !changed { return true }
        }
        log.append("shift constraints still violated after \(Self.maxRounds) rounds of adjustment")
        return false
    }

    private mutating func adjustAdd(_ layer: LayerQuantization) {
        let positions = layer.inputs.map(position)
        guard let low = positions.min(), let high = positions.max(), let highest = positions.firstIndex(of: high) else {
            return
        }
        if high - low > Self.shiftReadMax {
            move(
                layer.inputs[highest], to: low + Self.shiftReadMax,
                "\(layer.name): shift_read \(high - low) > \(Self.shiftReadMax)")
        }
        let lowest = layer.inputs.map(position).min() ?? low
        let write = lowest - position(layer.output)
        if !Self.addShiftWrite.contains(write) {
            let clamped = min(max(write, Self.addShiftWrite.lowerBound), Self.addShiftWrite.upperBound)
            move(
                layer.output, to: lowest - clamped, "\(layer.name): shift_write \(write) outside \(Self.addShiftWrite)")
        }
    }

    private mutating func adjustMul(_ layer: LayerQuantization) {
        let sum = layer.inputs.map(position).reduce(0, +)
        let write = sum - position(layer.output)
        if !Self.mulShiftWrite.contains(write) {
            let clamped = min(max(write, Self.mulShiftWrite.lowerBound), Self.mulShiftWrite.upperBound)
            move(layer.output, to: sum - clamped, "\(layer.name): shift_write \(write) outside \(Self.mulShiftWrite)")
        }
    }

    private mutating func adjustShiftCut(_ layer: LayerQuantization) {
        guard let input = layer.inputs.first, let weight = layer.weight else { return }
        let cut = position(input) + position(weight) - position(layer.output)
        if !Self.shiftCut.contains(cut) {
            let clamped = min(max(cut, Self.shiftCut.lowerBound), Self.shiftCut.upperBound)
            move(
                weight, to: clamped + position(layer.output) - position(input),
                "\(layer.name): shift_cut \(cut) outside \(Self.shiftCut)")
        }
    }

    private mutating func adjustShiftBias(_ layer: LayerQuantization) {
        guard let input = layer.inputs.first, let weight = layer.weight, let bias = layer.bias else { return }
        let product = position(input) + position(weight)
        let cut = product - position(layer.output)
        let low = layer.activation == .leakyRelu ? 0 : min(0, -(24 - (8 + cut)))
        let shift = product - position(bias)
        if shift < low || shift > Self.shiftBiasMax {
            let clamped = min(max(shift, low), Self.shiftBiasMax)
            move(
                bias, to: product - clamped, "\(layer.name): shift_bias \(shift) outside \(low)...\(Self.shiftBiasMax)")
        }
    }

    private mutating func adjustHardSigmoid(_ layer: LayerQuantization) {
        guard let input = layer.inputs.first else { return }
        let inputPosition = position(input)
        let clampedInput = min(max(inputPosition, Self.hardSigmoidInput.lowerBound), Self.hardSigmoidInput.upperBound)
        if clampedInput != inputPosition {
            move(
                input, to: clampedInput,
                "\(layer.name): hard-sigmoid input position \(inputPosition) outside \(Self.hardSigmoidInput)")
        }
        let output = position(layer.output)
        if layer.kind == .hardSigmoid {
            var target = max(output, Self.hardSigmoidOutputMin)
            if 14 + clampedInput - target < 0 { target = 14 + clampedInput }
            if target != output {
                move(
                    layer.output, to: target,
                    "\(layer.name): hard-sigmoid output position \(output) (needs ≥ 7 and shift_hsigmoid ≥ 0)")
            }
        } else {
            let shift = clampedInput + 7 - output
            if !Self.shiftSwish.contains(shift) {
                let clamped = min(max(shift, Self.shiftSwish.lowerBound), Self.shiftSwish.upperBound)
                move(
                    layer.output, to: clampedInput + 7 - clamped,
                    "\(layer.name): shift_hswish \(shift) outside \(Self.shiftSwish)")
            }
        }
    }

    /// The shifts of a layer at the current positions, by their DPU names.
    func shifts(of layer: LayerQuantization) -> [String: Int] {
        Self.shifts(of: layer, position: position)
    }

    /// The shifts of a layer given each value's position (see `docs/dpu-arithmetic.md`).
    static func shifts(of layer: LayerQuantization, position: (String) -> Int) -> [String: Int] {
        var shifts = layer.shifts
        let inputs = layer.inputs.map(position)
        let output = position(layer.output)
        switch layer.kind {
        case .conv, .gemm:
            guard let input = inputs.first, let weight = layer.weight.map(position) else { break }
            shifts["shift_cut"] = input + weight - output
            if let bias = layer.bias.map(position) { shifts["shift_bias"] = input + weight - bias }
        case .add:
            let low = inputs.min() ?? output
            for (index, input) in inputs.enumerated() { shifts["shift_read_\(index)"] = input - low }
            shifts["shift_write"] = low - output
        case .mul:
            shifts["shift_write"] = inputs.reduce(0, +) - output
        case .averagePool, .activation:
            shifts["shift_write"] = (inputs.first ?? output) - output
        case .hardSigmoid:
            let input = inputs.first ?? 0
            shifts["hsigmoid_in"] = input
            shifts["shift_hsigmoid"] = 14 + input - output
        case .hardSwish:
            let input = inputs.first ?? 0
            shifts["hsigmoid_in"] = input
            shifts["shift_hsigmoid"] = 14 + input - 7
            shifts["shift_hswish"] = input + 7 - output
        }
        return shifts
    }
}
