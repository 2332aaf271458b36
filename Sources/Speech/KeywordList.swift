import Foundation

/// Errors of the Speech module, in words an operator can act on.
public enum SpeechError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A keyword list that cannot be used (empty, a word pocketsphinx's dictionary lacks, a
    /// threshold out of range).
    case invalid(String)
    /// The acoustic model or dictionary is missing or does not load.
    case model(String)

    public var description: String {
        switch self {
        case let .invalid(m): "invalid keyword list: \(m)"
        case let .model(m): "speech model: \(m)"
        }
    }
}

/// One keyword the spotter reports, with the phrases that count as saying it and the
/// detection threshold (pocketsphinx's keyphrase threshold: smaller spots more, with more
/// false alarms; longer phrases need smaller ones).
///
/// ```toml
/// [[speech.keywords]]
/// keyword = "agent"
/// phrases = ["agent", "an agent"]
/// threshold = 1e-25
/// ```
public struct KeywordSpec: Codable, Sendable, Equatable {
    public var keyword: String
    public var phrases: [String]
    public var threshold: Double

    public init(keyword: String, phrases: [String]? = nil, threshold: Double = 1e-20) {
        self.keyword = keyword
        self.phrases = phrases ?? [keyword]
        self.threshold = threshold
    }
}

/// The keyword list with the pocketsphinx model it runs on: validated against the model's
/// dictionary (every word of every phrase must be in it), rendered as pocketsphinx's
/// keyphrase file and a dictionary of only the words needed (a decoder loads in a few
/// milliseconds instead of reading the 130 000-word dictionary).
public struct KeywordModel: Sendable, Equatable {
    /// The keywords the gateway listens for by default, with thresholds tuned on generated
    /// telephone-band speech (tools/bench/kws; docs/performance.md has the figures).
    public static let defaults: [KeywordSpec] = [
        KeywordSpec(keyword: "agent", phrases: ["agent", "an agent", "talk to an agent"], threshold: 1e-15),
        KeywordSpec(keyword: "human", threshold: 1e-5),
        KeywordSpec(keyword: "representative", threshold: 1e-1),
        KeywordSpec(keyword: "operator", phrases: ["operator", "the operator"], threshold: 1e-30),
        KeywordSpec(keyword: "person", phrases: ["person", "a person"], threshold: 1e-1),
        KeywordSpec(keyword: "cancel", threshold: 1e-20),
        KeywordSpec(keyword: "fraud", threshold: 1e-10),
    ]
    /// Debian's pocketsphinx-en-us (16 kHz US English, the decoder's default acoustic model).
    public static let defaultDirectory = "/usr/share/pocketsphinx/model/en-us"

    public let keywords: [KeywordSpec]
    /// The acoustic model's directory (`<dir>/en-us`, `<dir>/cmudict-en-us.dict`).
    public let directory: String
    /// Word -> its pronunciations (lines of the model's dictionary), for the words used.
    let pronunciations: [String]
    /// phrase -> keyword.
    let phraseKeyword: [String: String]

    public init(_ keywords: [KeywordSpec] = KeywordModel.defaults, directory: String = KeywordModel.defaultDirectory) throws(SpeechError) {
        guard !keywords.isEmpty else { throw .invalid("no keyword") }
        guard keywords.count <= 100 else { throw .invalid("at most 100 keywords") }
        var phraseKeyword: [String: String] = [:]
        var words: Set<String> = []
        for k in keywords {
            let name = k.keyword.lowercased()
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }) else {
                throw .invalid("keyword '\(k.keyword)' must be 1-64 letters")
            }
            guard k.threshold > 0, k.threshold <= 1 else { throw .invalid("keyword '\(k.keyword)': threshold \(k.threshold) is not in (0, 1] (e.g. 1e-20)") }
            guard !k.phrases.isEmpty, k.phrases.count <= 20 else { throw .invalid("keyword '\(k.keyword)': 1-20 phrases") }
            for p in k.phrases {
                let phrase = KeywordModel.normalize(p)
                guard !phrase.isEmpty, phrase.count <= 100 else { throw .invalid("keyword '\(k.keyword)': empty or long phrase '\(p)'") }
                guard phraseKeyword[phrase] == nil else { throw .invalid("phrase '\(phrase)' appears twice") }
                phraseKeyword[phrase] = name
                words.formUnion(phrase.split(separator: " ").map(String.init))
            }
        }
        let dictPath = directory + "/cmudict-en-us.dict"
        guard FileManager.default.fileExists(atPath: directory + "/en-us/mdef") else {
            throw .model("no acoustic model under \(directory)/en-us (install Debian's pocketsphinx-en-us)")
        }
        guard let dict = try? String(contentsOfFile: dictPath, encoding: .utf8) else { throw .model("cannot read \(dictPath)") }
        var lines: [String] = []
        var found: Set<String> = []
        for line in dict.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            var word = line[..<space]
            if let paren = word.firstIndex(of: "(") { word = word[..<paren] }
            let w = String(word)
            if words.contains(w) { lines.append(String(line)); found.insert(w) }
        }
        let missing = words.subtracting(found)
        guard missing.isEmpty else { throw .invalid("not in the model's dictionary: \(missing.sorted().joined(separator: ", "))") }
        self.keywords = keywords
        self.directory = directory
        self.pronunciations = lines
        self.phraseKeyword = phraseKeyword
    }

    static func normalize(_ phrase: String) -> String {
        phrase.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// pocketsphinx's keyphrase list: "phrase /threshold/" per line.
    var keyphraseFile: String {
        keywords.flatMap { k in k.phrases.map { "\(KeywordModel.normalize($0)) /\(String(format: "%.0e", k.threshold))/" } }
            .joined(separator: "\n") + "\n"
    }

    /// The keyword a phrase pocketsphinx reported stands for.
    func keyword(phrase: String) -> String? { phraseKeyword[KeywordModel.normalize(phrase)] }
}
