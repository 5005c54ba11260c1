import CKilnKernels

/// The instruction sets of the native kernels in `CKilnKernels`, chosen at run time.
package enum NativeKernels {
    /// An instruction set a native kernel may use.
    package enum ISA: Int32, Comparable, Sendable {
        /// Plain C, any CPU.
        case portable = 0
        /// AVX2 with FMA (x86-64 from Haswell / Zen on).
        case avx2 = 1
        /// AVX2 + FMA and AVX-512 F/BW/DQ/VL (Skylake-SP, Ice Lake, Zen 4 on).
        case avx512 = 2
        /// ``avx512`` with AVX512-VNNI (exact `vpdpwssd` for the int8 kernels).
        case avx512VNNI = 3

        /// Orders by capability.
        package static func < (lhs: ISA, rhs: ISA) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The best instruction set of this CPU.
    package static var cpuISA: ISA { ISA(rawValue: ckiln_cpu_isa()) ?? .portable }

    /// A lower instruction set forced for the current task (tests of the portable paths).
    @TaskLocal static var forcedISA: ISA?

    /// The instruction set the native kernels use in this task: ``cpuISA`` unless forced
    /// lower. Read on the calling thread and passed to each C call, so worker threads
    /// follow the caller.
    package static var activeISA: ISA {
        // A task-local lookup costs more than most small kernels: only when a task forces one.
        guard ckiln_isa_forced_anywhere() != 0 else { return cpuISA }
        return min(forcedISA ?? cpuISA, cpuISA)
    }

    /// Whether the SGEMM dispatch takes a native kernel (AVX2/FMA or AVX-512).
    package static var hasFastSgemm: Bool { activeISA >= .avx2 }

    /// Keeps freed heap memory in the process for reuse (glibc), so repeated inference does
    /// not fault in and zero fresh pages for every large tensor. Call once at start-up of a
    /// long-running command; returns whether it took effect.
    @discardableResult
    package static func retainFreedMemory() -> Bool { ckiln_retain_freed_memory() != 0 }

    /// Runs `body` with the kernels it calls (on this task) forced down to `isa`; with
    /// `.portable`, ``Gemm`` takes the Swift kernel and the other native kernels their
    /// portable C path.
    package static func withISA<T>(_ isa: ISA, _ body: () throws -> T) rethrows -> T {
        ckiln_isa_forcing(1)
        defer { ckiln_isa_forcing(-1) }
        return try $forcedISA.withValue(isa) { try body() }
    }
}
