// The fuzz driver. Built by tools/fuzz.sh with `-sanitize=fuzzer,address -D BATON_FUZZ`, it
// hands control to libFuzzer (LLVMFuzzerRunDriver) with the target BATON_FUZZ_TARGET names;
// libFuzzer's own options (-max_total_time, corpus folders...) follow on the command line.
// Built plainly (every `swift build`), it is a replay tool: `baton-fuzz TARGET FILE...` runs
// each file through the target once, and `baton-fuzz --seeds DIR` writes the generated seed
// inputs (signed PASSporTs) under DIR.
import FuzzTargets
import Foundation
import Logging

#if BATON_FUZZ
/// libFuzzer's entry point when the program keeps its own `main` (SwiftPM names every
/// executable's entry point, so libFuzzer's `main` cannot be the one).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

nonisolated(unsafe) var target: FuzzTarget = .sip
#endif

@main struct BatonFuzz {
    static func main() throws {
        #if BATON_FUZZ
        let name = ProcessInfo.processInfo.environment["BATON_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("BATON_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        target = t
        // Millions of inputs: the rate-limited warnings would still be most of the time spent.
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            target.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
        #else
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--seeds", args.count == 2 {
            for (target, seeds) in try FuzzSeeds.generated() {
                let dir = URL(fileURLWithPath: args[1]).appendingPathComponent(target.rawValue)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for (name, bytes) in seeds { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
            }
            return
        }
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: baton-fuzz TARGET FILE... | baton-fuzz --seeds DIR\ntargets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: " "))")
            exit(2)
        }
        for file in args.dropFirst() {
            target.run(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
            print("ok \(file)")
        }
        #endif
    }
}
