import Foundation
import Testing

@testable import VibrationCore

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "reads the accepted text forms",
        arguments: [
            ("1970-01-01T00:00:00Z", Int64(0)),
            ("1970-01-01 00:00:00", 0),
            ("1970-01-01t00:00:01z", 1_000_000),
            ("2025-01-01T00:00:00Z", 1_735_689_600_000_000),
            ("2025-01-01 09:00:00+09:00", 1_735_689_600_000_000),
            ("2025-01-01T09:00:00+0900", 1_735_689_600_000_000),
            ("2025-01-01T09:00:00+09", 1_735_689_600_000_000),
            ("2024-12-31T19:00:00-05:00", 1_735_689_600_000_000),
            ("2025-01-01T00:00:00.5Z", 1_735_689_600_500_000),
            ("2025-01-01 00:00:00.123456", 1_735_689_600_123_456),
            ("2025-01-01 00:00:00.1234567", 1_735_689_600_123_456),
            ("2024-02-29T12:00:00Z", 1_709_208_000_000_000),
            ("1969-12-31T23:59:59.999999Z", -1),
        ])
    func parses(text: String, micro: Int64) {
        #expect(Timestamp(parsing: text)?.microseconds == micro)
    }

    @Test(
        "refuses what is not a time",
        arguments: [
            "", "yesterday", "2025-01-01", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-04-31 00:00:00",
            "2025-01-01T24:00:00Z", "2025-01-01T23:60:00Z", "2025-01-01T23:59:60Z", "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00Zjunk", "2025-01-01T00:00:00+25:00", "0000-01-01T00:00:00Z",
            "2025/01/01 00:00:00", " 2025-01-01 00:00:00", "2025-01-01 00:00:00 ",
        ])
    func refuses(text: String) {
        #expect(Timestamp(parsing: text) == nil)
    }

    @Test("writes RFC 3339 with only the fractional digits needed, and reads it back")
    func formats() {
        #expect(Timestamp(microseconds: 1_735_689_600_000_000).rfc3339 == "2025-01-01T00:00:00Z")
        #expect(Timestamp(microseconds: 1_735_689_600_500_000).rfc3339 == "2025-01-01T00:00:00.5Z")
        #expect(Timestamp(microseconds: 1_735_689_600_000_001).csv == "2025-01-01 00:00:00.000001")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
        for micro: Int64 in [0, 1, 999_999, 951_782_400_000_000, 4_102_444_799_999_999, -62_135_596_800_000_000] {
            let t = Timestamp(microseconds: micro)
            #expect(Timestamp(parsing: t.rfc3339) == t)
            #expect(Timestamp(parsing: t.csv) == t)
        }
    }

    @Test("a bare date is the whole day as a range bound")
    func dateBounds() {
        let lower = Timestamp(parsingBound: "2025-01-31", upper: false)
        let upper = Timestamp(parsingBound: "2025-01-31", upper: true)
        #expect(lower == Timestamp(parsing: "2025-01-31T00:00:00Z"))
        #expect(upper == Timestamp(parsing: "2025-01-31T23:59:59.999999Z"))
        #expect(Timestamp(parsingBound: "2025-02-30", upper: false) == nil)
        #expect(Timestamp(parsingBound: "2025-1-3", upper: false) == nil)
        #expect(Timestamp(parsingBound: "2025-01-01T01:00:00Z", upper: true) == Timestamp(parsing: "2025-01-01T01:00:00Z"))
    }

    @Test("civil dates convert both ways over four centuries")
    func civilRoundTrip() {
        var day = CivilCalendar.days(year: 1900, month: 1, day: 1)
        let end = CivilCalendar.days(year: 2300, month: 12, day: 31)
        var (y, m, d) = (1900, 1, 1)
        while day <= end {
            #expect(CivilCalendar.civil(fromDays: day) == (y, m, d))
            day += 1
            d += 1
            if d > CivilCalendar.daysIn(month: m, year: y) {
                d = 1
                m += 1
                if m > 12 {
                    m = 1
                    y += 1
                }
            }
        }
    }

    @Test("adding seconds far out of range saturates instead of trapping")
    func addingSaturates() {
        let t = Timestamp(microseconds: 1_700_000_000_000_000)
        #expect(t.adding(seconds: 1e300).microseconds == .max)
        #expect(t.adding(seconds: -1e300).microseconds == .min)
        #expect(t.adding(seconds: .nan) == t)
        #expect(t.adding(seconds: 1.5).microseconds == 1_700_000_001_500_000)
    }

    @Test("a sample's measured_time must stay within ±1e9 s")
    func measuredTimeRange() {
        func violations(_ time: Double) -> [String] {
            VibrationSample(
                machineName: "m", sensorNo: "s", collectedAt: .now, measuredTime: time, normal: 0, unbalance: 0, looseness: 0,
                unbalanceLooseness: 0
            ).violations().map(\.field)
        }
        #expect(violations(999_999_999) == [])
        #expect(violations(-5) == [])
        #expect(violations(1e9) == ["measured_time"])
        #expect(violations(-1e300) == ["measured_time"])
        #expect(violations(.infinity) == ["measured_time"])
    }
}

@Suite("Plant time zone")
struct PlantTimeZoneTests {
    let seoul = PlantTimeZone(identifier: "Asia/Seoul")!
    let berlin = PlantTimeZone(identifier: "Europe/Berlin")!

    @Test("a time without an offset is the zone's local time; one with an offset is that instant")
    func naiveTimes() {
        #expect(Timestamp(parsing: "2025-04-29T12:34:56", zone: seoul) == Timestamp(parsing: "2025-04-29T03:34:56Z"))
        #expect(Timestamp(parsing: "2025-04-29 12:34:56.123456", zone: seoul) == Timestamp(parsing: "2025-04-29T03:34:56.123456Z"))
        #expect(Timestamp(parsing: "2025-04-29T12:34:56Z", zone: seoul) == Timestamp(parsing: "2025-04-29T12:34:56Z"))
        #expect(Timestamp(parsing: "2025-04-29T12:34:56+02:00", zone: seoul) == Timestamp(parsing: "2025-04-29T10:34:56Z"))
        #expect(Timestamp(parsing: "2025-04-29T12:34:56", zone: .utc) == Timestamp(parsing: "2025-04-29T12:34:56Z"))
        // A bare date is the zone's local day.
        #expect(Timestamp(parsingBound: "2025-04-29", upper: false, zone: seoul) == Timestamp(parsing: "2025-04-28T15:00:00Z"))
        #expect(Timestamp(parsingBound: "2025-04-29", upper: true, zone: seoul) == Timestamp(parsing: "2025-04-29T14:59:59.999999Z"))
        #expect(seoul.rfc3339(Timestamp(parsing: "2025-04-29T03:34:56.5Z")!) == "2025-04-29T12:34:56.5+09:00")
        #expect(PlantTimeZone.utc.rfc3339(Timestamp(parsing: "2025-04-29T03:34:56Z")!) == "2025-04-29T03:34:56Z")
        #expect(PlantTimeZone(identifier: "Mars/Olympus") == nil && PlantTimeZone(identifier: "KST") == nil)
        #expect(PlantTimeZone(identifier: "UTC")?.isUTC == true)
    }

    @Test("around summer time: a skipped local time lands after the change, a repeated one is the earlier instant")
    func daylightSaving() {
        // Berlin sprang forward at 2025-03-30 02:00 local (01:00Z) and fell back at 2025-10-26 03:00 local (01:00Z).
        #expect(Timestamp(parsing: "2025-03-30T01:59:00", zone: berlin) == Timestamp(parsing: "2025-03-30T00:59:00Z"))
        #expect(Timestamp(parsing: "2025-03-30T02:30:00", zone: berlin) == Timestamp(parsing: "2025-03-30T01:30:00Z"))
        #expect(Timestamp(parsing: "2025-03-30T03:00:00", zone: berlin) == Timestamp(parsing: "2025-03-30T01:00:00Z"))
        #expect(Timestamp(parsing: "2025-10-26T02:30:00", zone: berlin) == Timestamp(parsing: "2025-10-26T00:30:00Z"))
        #expect(Timestamp(parsing: "2025-10-26T03:30:00", zone: berlin) == Timestamp(parsing: "2025-10-26T02:30:00Z"))
    }

    @Test("the streaming reader agrees with the zone at every time of a year, in any order")
    func readerAgrees() {
        var rng = SplitMix64(seed: 42)
        for zone in [seoul, berlin, PlantTimeZone(identifier: "America/St_Johns")!, PlantTimeZone(identifier: "Asia/Kathmandu")!] {
            var reader = PlantTimeZone.Reader(zone)
            let start = Timestamp(parsing: "2025-01-01T00:00:00Z")!.microseconds
            for _ in 0..<5_000 {
                let local = start + Int64(rng.next() % UInt64(366 * 86_400)) * 1_000_000 + Int64(rng.next() % 1_000_000)
                #expect(reader.utc(fromLocal: local) == zone.utc(fromLocal: local), "\(zone) \(Timestamp(microseconds: local))")
            }
            // Every local time the zone really shows reads back to its instant.
            for _ in 0..<2_000 {
                let instant = start + Int64(rng.next() % UInt64(366 * 86_400)) * 1_000_000
                let local = instant + Int64(zone.offsetSeconds(atUTC: instant)) * 1_000_000
                let back = zone.utc(fromLocal: local)
                #expect(back == instant || zone.offsetSeconds(atUTC: back) != zone.offsetSeconds(atUTC: instant), "\(zone)")
            }
        }
    }

    @Test("CSV and NDJSON read naive collected_at in the zone")
    func decoders() throws {
        let csv = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\nm,s,2025-04-29 12:00:00,0,1,2,3,4\nm,s,2025-04-29T12:00:00Z,0,1,2,3,4\n"
        var parser = SampleCSVParser(layout: .product, now: .earliest, zone: seoul)
        var batch = SampleBatch()
        try Array(csv.utf8).withUnsafeBytes { try parser.decode($0, into: &batch) }
        try parser.finish(into: &batch)
        #expect(batch.collectedAt == [Timestamp(parsing: "2025-04-29T03:00:00Z")!.microseconds, Timestamp(parsing: "2025-04-29T12:00:00Z")!.microseconds])
        let line = #"{"machine_name": "m", "sensor_no": "s", "collected_at": "2025-04-29T12:00:00", "measured_time": 0, "normal": 1, "unbalance": 2, "looseness": 3, "unbalance_looseness": 4}"# + "\n"
        var reader = SampleJSONReader(now: .earliest, zone: seoul)
        var rows = SampleBatch()
        try Array(line.utf8).withUnsafeBytes { try reader.decode($0, into: &rows) }
        try reader.finish(into: &rows)
        #expect(rows.collectedAt == [Timestamp(parsing: "2025-04-29T03:00:00Z")!.microseconds])
        let diagnoses = DiagnosisReader.ndjson(Data(#"{"machine_name": "g1", "detected_at": "2025-04-29T12:45:00", "fault_type": 2}"#.utf8), now: .earliest, zone: seoul)
        #expect(diagnoses.rows.first?.detectedAt == Timestamp(parsing: "2025-04-29T03:45:00Z"))
    }
}
