// baton-audio-check: the audio-level half of the switchover benchmark and interop tests.
//
//   baton-audio-check reference OUT.wav [SECONDS]   write the reference (white noise, 8 kHz)
//   baton-audio-check analyse HEARD.wav [SECONDS [MAXLAG]]
//                                                   align what a device heard with the
//                                                   reference (delays up to MAXLAG seconds
//                                                   either way, default 2); JSON on stdout
//
// tools/bench/switchover_bench.py runs it on the far party's recording after each round.
import AudioAnalysis
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let args = CommandLine.arguments.dropFirst()
guard let verb = args.first, let path = args.dropFirst().first else {
    fail("usage: baton-audio-check reference OUT.wav [SECONDS] | analyse HEARD.wav [SECONDS]")
}
let seconds = args.dropFirst(2).first.flatMap(Double.init) ?? 120
let url = URL(fileURLWithPath: path)
switch verb {
case "reference":
    do { try WAV(rate: 8000, samples: ReferenceSignal.samples(seconds: seconds)).write(to: url) } catch { fail("\(error)") }
case "analyse", "analyze":
    do {
        let heard = try WAV.read(contentsOf: url)
        let maxLag = args.dropFirst(3).first.flatMap(Double.init) ?? 2
        let report = AudioAlignment.analyse(reference: ReferenceSignal.samples(seconds: seconds), recording: heard,
                                            maxLag: Int(maxLag * 8000))
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        print(String(decoding: try enc.encode(report), as: UTF8.self))
    } catch { fail("\(error)") }
default:
    fail("unknown verb \(verb)")
}
