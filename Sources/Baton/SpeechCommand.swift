import ArgumentParser
import Foundation
import Media
import Speech

/// `baton speech spot`: runs the gateway's keyword spotter and DTMF receiver over recorded
/// telephone audio (what tools/bench/kws measures, and what an operator runs to tune the
/// keyword list's thresholds before putting it in `[[speech.keywords]]`).
struct SpeechCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speech", abstract: "Keyword spotting and in-band DTMF on recorded audio.",
        subcommands: [Spot.self])

    struct Spot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Spot keywords in 8 kHz G.711 mu-law files (.ulaw, raw); prints one JSON line per file and a summary line.")
        @Option(help: "Keyword list, JSON: [{\"keyword\": \"agent\", \"phrases\": [\"agent\"], \"threshold\": 1e-25}, ...]; default: the gateway's default list.")
        var keywords: String?
        @Option(help: "pocketsphinx model directory.") var model: String = KeywordModel.defaultDirectory
        @Argument(help: "The .ulaw files.") var files: [String]

        func run() async throws {
            var specs = KeywordModel.defaults
            if let keywords {
                do { specs = try JSONDecoder().decode([KeywordSpec].self, from: Data(contentsOf: URL(fileURLWithPath: keywords))) } catch {
                    throw ValidationError("cannot read the keyword list \(keywords): \(error)")
                }
            }
            let kmodel: KeywordModel
            do { kmodel = try KeywordModel(specs, directory: model) } catch { throw ValidationError(error.description) }
            let spotter: KeywordSpotter
            do { spotter = try KeywordSpotter(kmodel) } catch { throw ValidationError(error.description) }
            let clock0 = Listener.threadCPU()
            var audio = 0.0
            let silence = [Int16](repeating: 0, count: 160)
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
                let tones = ToneDetector()
                var found: [String] = []
                var digits = ""
                // Fed as the relay would hand it over: 20 ms frames, then half a second of
                // silence so a keyword at the very end completes.
                var pcm = [Int16](repeating: 0, count: 160)
                var i = 0
                while i < data.count {
                    let n = min(160, data.count - i)
                    for k in 0..<n { pcm[k] = G711.ulaw(data[data.startIndex + i + k]) }
                    let frame = Array(pcm[0..<n])
                    found += spotter.feed(frame)
                    digits += tones.feed(frame)
                    i += n
                }
                for _ in 0..<25 { found += spotter.feed(silence) }
                audio += Double(data.count) / 8000 + 0.5
                let line: [String: Any] = ["file": (file as NSString).lastPathComponent, "keywords": found, "digits": digits]
                print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
            }
            let cpu = Listener.threadCPU() - clock0
            let summary: [String: Any] = ["summary": true, "files": files.count, "audio_s": audio, "cpu_s": cpu, "cpu_per_audio_s": audio > 0 ? cpu / audio : 0]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}
