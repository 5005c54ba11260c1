import Testing

@testable import KilnTargets

/// The limit types evaluate the published rules the way the partitioner will ask them.
@Suite struct LimitsTests {
    @Test func kernelRangesReadLikePartitionReasons() throws {
        let b4096 = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        let kernel = try #require(b4096.limits.conv?.kernel)
        #expect(!kernel.contains(17) && kernel.contains(9))
        #expect("kernel 17x17 exceeds the \(kernel) limit" == "kernel 17x17 exceeds the 1..16 limit")
        #expect(AllowedSizes.values([1, 2, 3, 5, 7]).description == "{1, 2, 3, 5, 7}")
    }

    /// (rule, layer, satisfied)
    static let cases: [(SizeConstraint, LayerGeometry, Bool)] = [
        (.kernelAreaTimesChannelGroups(channelParallel: 16, max: 2048), LayerGeometry(kernelWidth: 3, kernelHeight: 3, inputChannels: 3632), true),  // 9·227 = 2043
        (.kernelAreaTimesChannelGroups(channelParallel: 16, max: 2048), LayerGeometry(kernelWidth: 3, kernelHeight: 3, inputChannels: 3633), false),  // 9·228 = 2052
        (.inputChannels(max: 4096), LayerGeometry(inputChannels: 4097), false),
        (.outputChannels(max: 4096), LayerGeometry(outputChannels: 4096), true),
        (.dilationTimesInputChannels(max: 4096), LayerGeometry(dilation: 2, inputChannels: 2049), false),
        (.kernelArea(max: 53), LayerGeometry(kernelWidth: 7, kernelHeight: 7), true),
        (.kernelArea(max: 53), LayerGeometry(kernelWidth: 8, kernelHeight: 7), false),
        (.kernelAreaTimesChannelBlocks(block: 2048, max: 64), LayerGeometry(kernelWidth: 4, kernelHeight: 4, inputChannels: 8192), true),
        (.kernelAreaTimesChannelBlocks(block: 2048, max: 64), LayerGeometry(kernelWidth: 4, kernelHeight: 4, inputChannels: 8193), false),
        (.kernelRowsPerBankTimesWidth(banks: 8, max: 2048), LayerGeometry(kernelWidth: 256, kernelHeight: 64), true),
        (.kernelRowsPerBankTimesWidth(banks: 8, max: 2048), LayerGeometry(kernelWidth: 256, kernelHeight: 65), false),
        (.strideWindow(strideFactor: 6, offset: 4, max: 512), LayerGeometry(kernelWidth: 3, kernelHeight: 3, strideWidth: 2), true),
        (.strideWindow(strideFactor: 6, offset: 4, max: 512), LayerGeometry(kernelWidth: 20, kernelHeight: 20, strideWidth: 1), false),
        (.squareKernel, LayerGeometry(kernelWidth: 3, kernelHeight: 5), false),
        (.volumeChannelBlocks(align: 16, block: 2048, max: 64), LayerGeometry(kernelWidth: 3, kernelHeight: 3, kernelDepth: 3, inputChannels: 17), true),
        (.strideSquaredTimesInputChannels(max: 4096), LayerGeometry(strideWidth: 2, strideHeight: 2, inputChannels: 1025), false),
        (.nearestScale(banks: 8, channelParallel: 16, max: 2048), LayerGeometry(inputChannels: 4096, scale: 2), true),
        (.unitStrideWhenDilated, LayerGeometry(strideWidth: 1, strideHeight: 1, dilation: 3), true),
        (.unitStrideWhenDilated, LayerGeometry(strideWidth: 2, strideHeight: 2, dilation: 3), false),
        (.unitStrideWhenDilated, LayerGeometry(strideWidth: 2, strideHeight: 2, dilation: 1), true),
    ]

    @Test(arguments: cases)
    func sizeRulesEvaluate(_ rule: SizeConstraint, _ layer: LayerGeometry, _ satisfied: Bool) {
        #expect(rule.isSatisfied(by: layer) == satisfied, "\(rule)")
    }

    @Test func paddingLimitsFollowTheKernelAndDilation() {
        #expect(SharedLimits.convPadding.maximum(kernel: 3, dilation: 2) == 4)
        #expect(SharedLimits.aluPadding.maximum(kernel: 33, dilation: 2) == 30)
        #expect(SharedLimits.aluWindowPadding.maximum(kernel: 33, dilation: 2) == 15)
        #expect(SharedLimits.aluPadding.description == "0..min(k−1, 15)·dilation")
    }

    @Test func dpuczdx8gActivationsFollowTheFeatureCode() throws {
        let b4096 = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        #expect(b4096.limits.conv?.activations == [.relu, .relu6, .leakyReLU, .hardSigmoid, .hardSwish])
        #expect(b4096.limits.depthwiseConv?.activations.contains(.leakyReLU) == false)
        let kv260 = try Catalog.architecture(named: "DPUCZDX8G-kv260")
        #expect(kv260.limits.argmax == nil)  // Vitis AI 2.5: save-engine argmax off
    }

    @Test func depthwiseSupportDiffersByFamily() throws {
        #expect(try Catalog.architecture(named: "DPUCADF8H_ISA0").limits.depthwiseConv == nil)
        #expect(try Catalog.architecture(named: "DPUCAHX8H_ISA2").limits.depthwiseConv == nil)
        let dwc = try #require(try Catalog.architecture(named: "DPUCAHX8H_ISA2_DWC").limits.depthwiseConv?.kernel)
        #expect(dwc.contains(5) && !dwc.contains(4))
    }
}
