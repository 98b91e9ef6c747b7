import Testing
import VibrationCore

@testable import VibrationServer

@Suite("Rows written straight into pages")
struct HTMLRowsTests {
    @Test("every character with a meaning in HTML is escaped, the rest kept as it is")
    func escaping() {
        #expect(HTMLRows.escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
        #expect(HTMLRows.escape("설비 ✔ line-a") == "설비 ✔ line-a")
    }

    @Test("a sample row carries its values and its UTC time for the browser to localise")
    func sampleRow() {
        let row = StoredSample(
            id: 7,
            sample: VibrationSample(
                machineName: "m<1>", sensorNo: "s&1", collectedAt: Timestamp(parsing: "2025-01-01T00:00:00.5Z")!, measuredTime: 0.5,
                normal: 0.25, unbalance: -1, looseness: 2, unbalanceLooseness: 3.5))
        #expect(
            HTMLRows.samples([row])
                == "<tr><td>7</td><td>m&lt;1&gt;</td><td>s&amp;1</td><td><time datetime=\"2025-01-01T00:00:00.5Z\">2025-01-01T00:00:00.5Z</time></td>"
                + "<td>0.5</td><td>0.25</td><td>-1.0</td><td>2.0</td><td>3.5</td></tr>\n")
    }
}
