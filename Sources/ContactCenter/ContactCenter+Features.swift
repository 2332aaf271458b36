import Foundation
import Store

/// The features of a bot call that its dialog information records give (issue 20), by
/// name: what a live call's vector, a stored training sample and a history file's columns
/// are made of. The names are the contract between the records, the stored model and
/// tools/model (the generator and the scikit-learn cross-check).
public enum DialogFeatures {
    public static let names = [
        "no_match",            // the bot's no-match / no-input reports so far
        "human_request",       // 1 when the caller asked for a person (the bot's report, a keyword, DTMF 0)
        "talk_over_ratio",     // share of the bot's speech the caller talked over (0..1)
        "long_silences",       // stretches of 4 s or more in which neither party talked
        "negative_sentiment",  // the bot's last sentiment report, 0 (neutral/positive) .. 1 (negative)
        "minutes",             // call duration so far
        "prior_transfers",     // the caller's earlier calls transferred to this candidate
        "candidate_share",     // share of all transfers that went to this candidate before (0..1)
    ]

    /// Keywords that are a request for a person.
    static let personWords: Set<String> = ["agent", "human", "representative", "operator", "person"]

    /// The features every candidate shares: from the call's summary and its duration.
    public static func shared(_ s: DialogSummary, minutes: Double) -> [String: Double] {
        let asked = s.humanRequested || s.dtmf.contains("0") || s.keywords.contains { personWords.contains($0) }
        let talkOver = s.media.map { $0.otherTalk > 0 ? min(1, $0.talkOver / $0.otherTalk) : 0 } ?? 0
        return ["no_match": Double(s.noMatch), "human_request": asked ? 1 : 0, "talk_over_ratio": talkOver,
                "long_silences": Double(s.media?.longSilences ?? 0), "negative_sentiment": s.negativeSentiment,
                "minutes": max(0, minutes)]
    }
}

extension ContactCenter {
    /// Every candidate second operator: the agents, and the categories as "category:<id>"
    /// (at most 200).
    public func candidates() -> [String] {
        Array((agents().map(\.id) + categories().map { "category:\($0.id)" }).prefix(200))
    }

    /// The call's feature vector for each candidate: the shared features plus the caller's
    /// history with that candidate.
    public func features(call: String, caller: String, minutes: Double, candidates: [String]) async -> [(candidate: String, features: [String: Double])] {
        let shared = DialogFeatures.shared(dialogSummary(call: call), minutes: minutes)
        var out: [(String, [String: Double])] = []
        for c in candidates {
            let (prior, share) = await transferHistory(caller: caller, candidate: c)
            var x = shared
            x["prior_transfers"] = Double(prior)
            x["candidate_share"] = share
            out.append((c, x))
        }
        return out
    }

    /// Stores the call's training samples once: one per candidate, the one it was
    /// transferred to (if any) labelled as such. Called at the transfer, or as a bot call
    /// ends without one. Calls with no dialog records (not bot calls) give none.
    public func recordSamples(call: String, caller: String, minutes: Double, transferredTo: String?) async {
        let first: Bool = dialogs.withLock { d in
            guard var s = d[call], !s.sampled else { return false }
            s.sampled = true
            d[call] = s
            return true
        }
        guard first else { return }
        let t = now()
        let rows = await features(call: call, caller: caller, minutes: minutes, candidates: candidates())
        let records = rows.map { row in
            TransferSampleRecord(callID: call, candidate: row.candidate, features: ContactCenter.json(row.features),
                                 transferred: row.candidate == transferredTo, time: t)
        }
        do { try await store.append(records) } catch {
            logger.error("transfer samples not stored", metadata: ["call": "\(call)", "error": "\(error)"])
        }
    }

    /// Whether the call has dialog records (a bot call Baton heard or was told about).
    public func hasDialog(call: String) -> Bool { dialogs.withLock { $0[call] != nil } }

    /// The newest stored samples (oldest first): the features by name and the label.
    public func transferSamples(limit: Int = 200_000) async throws(ContactCenterError) -> [(features: [String: Double], transferred: Bool, time: Double)] {
        let rows: [TransferSampleRecord]
        do { rows = try await store.transferSamples(limit: limit) } catch { throw .unavailable("store: \(error)") }
        return rows.compactMap { r in
            guard let f = try? JSONDecoder().decode([String: Double].self, from: Data(r.features.utf8)) else { return nil }
            return (f, r.transferred, r.time)
        }
    }
}
