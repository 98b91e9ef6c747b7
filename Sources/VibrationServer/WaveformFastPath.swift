import Foundation
import HTTPTypes
import OpenAPIRuntime
import VibrationCore
import VibrationStore

/// `GET /machines/{name}/waveform` answered with its JSON written straight into bytes: Foundation's
/// JSONEncoder boxes every value and sorts every object's keys, which for thousands of buckets costs
/// more than reading them (docs/PERFORMANCE.md has the figures). The query is
/// read here only when it is plain (no `+`, every parameter known and well-formed); anything else,
/// and every error, goes to the generated handler, which answers as the API document says.
struct WaveformFastPath<S: Store>: ServerMiddleware {
    let api: VibrationAPI<S>

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard operationID == "getWaveform", let raw = metadata.pathParameters["name"], !raw.contains("+"),
            let name = WaveformQuery.decoded(raw),
            let query = WaveformQuery.parse(request.path ?? ""), let sensorNo = query["sensor_no"]
        else { return try await next(request, body, metadata) }
        var channel: SignalChannel?
        if let text = query["channel"] {
            guard let known = SignalChannel(rawValue: text) else { return try await next(request, body, metadata) }
            channel = known
        }
        var points: Int?
        if let text = query["points"] {
            guard let number = Int(text) else { return try await next(request, body, metadata) }
            points = number
        }
        let answer: (channel: SignalChannel, reduced: Downsampling.Reduced, span: ClosedRange<Timestamp>?)
        do {
            answer = try await api.waveform(
                machineName: name, sensorNo: sensorNo, channel: channel, from: query["from"], to: query["to"], points: points)
        } catch {
            return try await next(request, body, metadata)
        }
        let json = WaveformJSON.encode(machineName: name, sensorNo: sensorNo, channel: answer.channel, answer.reduced, span: answer.span)
        return (HTTPResponse(status: .ok, headerFields: [.contentType: "application/json; charset=utf-8"]), HTTPBody(json))
    }
}

/// The waveform request's query, read without the generated parser.
enum WaveformQuery {
    static let parameters: Set<String> = ["sensor_no", "channel", "from", "to", "points"]

    /// The query's parameters, percent-decoded; nil when it holds a `+`, a parameter twice, one
    /// this operation does not take, or bad percent-encoding (the generated parser decides those).
    static func parse(_ path: String) -> [String: String]? {
        guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        guard !query.contains("+") else { return nil }
        var values: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let key = decoded(parts[0]), parameters.contains(key), values[key] == nil,
                let value = decoded(parts[1])
            else { return nil }
            values[key] = value
        }
        return values
    }

    static func decoded(_ text: Substring) -> String? {
        text.contains("%") ? String(text).removingPercentEncoding : String(text)
    }
}

/// The waveform answer as JSON: the members of `Components.Schemas.Waveform` in sorted order,
/// numbers in Swift's shortest round-trip form, times as RFC 3339, `summary_seconds` null when
/// the answer was built from the samples.
enum WaveformJSON {
    static func encode(
        machineName: String, sensorNo: String, channel: SignalChannel, _ reduced: Downsampling.Reduced, span: ClosedRange<Timestamp>?
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + reduced.buckets.count * 96)
        out.append(contentsOf: #"{"buckets":["#.utf8)
        for (i, bucket) in reduced.buckets.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"max":"#.utf8)
            appendNumber(bucket.max, to: &out)
            out.append(contentsOf: #","min":"#.utf8)
            appendNumber(bucket.min, to: &out)
            out.append(contentsOf: #","n":"#.utf8)
            out.append(contentsOf: String(bucket.count).utf8)
            out.append(contentsOf: #","t":""#.utf8)
            out.append(contentsOf: Timestamp(microseconds: bucket.time).rfc3339.utf8)
            out.append(contentsOf: #""}"#.utf8)
        }
        out.append(contentsOf: #"],"channel":"#.utf8)
        appendString(channel.rawValue, to: &out)
        for (key, time) in [("data_from", span?.lowerBound), ("data_to", span?.upperBound)] {
            out.append(contentsOf: ",\"\(key)\":".utf8)
            if let time { appendString(time.rfc3339, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        out.append(contentsOf: #","machine_name":"#.utf8)
        appendString(machineName, to: &out)
        out.append(contentsOf: #","samples":"#.utf8)
        out.append(contentsOf: String(reduced.samples).utf8)
        out.append(contentsOf: #","sensor_no":"#.utf8)
        appendString(sensorNo, to: &out)
        out.append(contentsOf: #","summary_seconds":"#.utf8)
        if let width = reduced.summaryMicroseconds {
            appendNumber(Double(width) / 1e6, to: &out)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: #","truncated":"#.utf8)
        out.append(contentsOf: (reduced.truncated ? "true" : "false").utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A finite double (stored values always are) in its shortest round-trip form, which is valid JSON.
    static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        out.append(contentsOf: value.description.utf8)
    }

    /// A JSON string: quote, backslash and control characters escaped, everything else as UTF-8.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
