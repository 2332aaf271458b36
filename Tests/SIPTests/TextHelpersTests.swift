import Testing
@testable import SIP

@Suite struct TextHelpersTests {
    @Test(arguments: [("  70 ", "70"), ("\t<sip:a@b>;tag=1 \t", "<sip:a@b>;tag=1"), ("", ""), ("   ", ""), ("x", "x"),
                      (" a b ", "a b"), ("é ", "é")])
    func trimsSpacesAndTabs(_ input: String, _ expected: String) {
        #expect(input.trimmedSpaces == expected)
        #expect(input[...].trimmedSpaces == expected)
    }

    @Test func randomTokensAreHexOfTheAskedLengthAndDiffer() {
        for n in [0, 1, 10, 15, 16, 17, 32, 40] {
            let t = randomToken(n)
            #expect(t.count == n)
            #expect(t.allSatisfy { "0123456789abcdef".contains($0) })
        }
        let many = Set((0..<1000).map { _ in randomToken(16) })
        #expect(many.count == 1000)
        // Every digit shows up in every position over many draws (no stuck nibble).
        let tokens = (0..<400).map { _ in Array(randomToken(20)) }
        for i in 0..<20 { #expect(Set(tokens.map { $0[i] }).count == 16, "position \(i)") }
    }
}
