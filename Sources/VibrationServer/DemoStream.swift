import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import VibrationCore
import VibrationStore

/// The demo plant. First its history: hours of past data, one second of every sensor every two
/// minutes (as a periodic condition-monitoring round records it), with past episodes of faults that
/// were found and repaired. Then live data through the public bulk API, as an edge gateway would send
/// it: every second, one second of samples for each machine and sensor. The monitored signal of some
/// machines drifts into a fault and one is repaired, so states change and alarms open and close
/// within minutes.
public struct DemoStream: Service {
    /// How a machine's live signal evolves: its condition from `seconds` after the start.
    public struct Scenario: Sendable {
        public var machineName: String
        public var steps: [(seconds: Double, condition: FaultType)]

        public func condition(at elapsed: Double) -> FaultType {
            steps.last { $0.seconds <= elapsed }?.condition ?? .normal
        }
    }

    /// A fault a machine had in the past: from `from` to `to` hours before the live stream began.
    public struct Episode: Sendable {
        public var machineName: String
        public var from: Double
        public var to: Double
        public var condition: FaultType
    }

    public let url: String
    public let rateHz: Double
    /// Seconds of data at the full rate loaded before the live stream begins; the scenarios play out after it.
    public let historySeconds: Int
    /// Hours of periodic snapshots loaded before that.
    public let historyHours: Double
    /// Seconds between two snapshots of the history.
    public let snapshotEvery = 120
    public let episodes: [Episode]
    /// Sent as `Authorization: Bearer` with every upload.
    public let apiKey: String?
    public let channels: [PlantGenerator.Channel]
    public let scenarios: [String: Scenario]
    let logger: Logger

    /// The demo plant: three lines of four machines.
    public static let machines = [
        "line-a-press", "line-a-pump", "line-a-compressor", "line-a-fan",
        "line-b-fan", "line-b-mixer", "line-b-conveyor", "line-b-pump",
        "line-c-spindle", "line-c-blower", "line-c-conveyor", "line-c-chiller",
    ]

    /// The demo plant's machines, with their shaft speeds, and what happens to each.
    public init(
        url: String, machines: [String] = DemoStream.machines, sensors: Int = 2, rateHz: Double = 1_000,
        historySeconds: Int = 120, historyHours: Double = 0, apiKey: String? = nil, logger: Logger
    ) {
        self.apiKey = apiKey
        self.url = url
        self.rateHz = rateHz
        self.historySeconds = historySeconds
        self.historyHours = historyHours
        self.logger = logger
        var rng = SplitMix64(seed: 77)
        var channels: [PlantGenerator.Channel] = []
        for machine in machines {
            // Up to 40 Hz, so that the tenth order stays below the Nyquist frequency of 1 kHz sampling.
            let shaft = rng.uniform(20...40)
            for s in 1...sensors {
                channels.append(
                    PlantGenerator.Channel(
                        machineName: machine, sensorNo: "sensor\(s)", shaftHz: shaft, gain: rng.uniform(0.8...1.2),
                        noise: rng.uniform(0.01...0.02), seed: rng.next(), sampleRateHz: rateHz))
            }
        }
        self.channels = channels
        let plan: [[(Double, FaultType)]] = [
            [(0, .normal)],
            [(0, .normal), (45, .massUnbalance)],
            [(0, .normal), (90, .supportLooseness)],
            [(0, .normal)],
            [(0, .normal), (60, .massUnbalance), (150, .unbalanceAndLooseness)],
            [(0, .massUnbalance), (120, .normal)],
            [(0, .normal)],
            [(0, .normal)],
            [(0, .normal), (200, .supportLooseness)],
            [(0, .normal)],
            [(0, .normal)],
            [(0, .normal)],
        ]
        var scenarios: [String: Scenario] = [:]
        for (i, machine) in machines.enumerated() {
            scenarios[machine] = Scenario(
                machineName: machine,
                steps: plan[i % plan.count].map { (seconds: $0.0 == 0 ? 0 : $0.0 + Double(historySeconds), condition: $0.1) })
        }
        self.scenarios = scenarios
        // What the history shows: faults found and repaired, and the mixer's unbalance, which is
        // still there when the live stream starts (and repaired two minutes into it).
        let past: [(Int, Double, Double, FaultType)] = [
            (3, 2.5, 2.0, .supportLooseness), (5, 1.5, 0, .massUnbalance), (6, 2.8, 2.6, .unbalanceAndLooseness),
            (9, 1.2, 0.8, .massUnbalance),
        ]
        episodes = past.compactMap { index, from, to, condition in
            index < machines.count ? Episode(machineName: machines[index], from: from, to: to, condition: condition) : nil
        }
    }

    /// A machine's condition `hoursAgo` before the live stream began.
    public func pastCondition(of machine: String, hoursAgo: Double) -> FaultType {
        episodes.last { $0.machineName == machine && $0.from >= hoursAgo && hoursAgo > $0.to }?.condition ?? .normal
    }

    /// One second of every sensor starting at `at`, as its own recording, in the condition of that
    /// moment of the history.
    public func snapshot(at: Timestamp, hoursAgo: Double) -> [UInt8] {
        var out = Array(SampleCSVWriter.header.utf8)
        var writer = SampleCSVWriter(precision: .fixed6)
        let perSecond = Int(rateHz)
        for channel in channels {
            let w = PlantGenerator.window(of: channel, count: perSecond, sampleRateHz: rateHz, start: hoursAgo * 3_600)
            let live = Self.signal(w, pastCondition(of: channel.machineName, hoursAgo: hoursAgo))
            for i in 0..<perSecond {
                let measured = Double(i) / rateHz
                writer.append(
                    VibrationSample(
                        machineName: channel.machineName, sensorNo: channel.sensorNo, collectedAt: at.adding(seconds: measured),
                        measuredTime: (measured * 1_000_000).rounded() / 1_000_000, normal: live[i], unbalance: w.unbalance[i],
                        looseness: w.looseness[i], unbalanceLooseness: w.both[i]),
                    to: &out)
            }
        }
        return out
    }

    static func signal(
        _ w: (normal: [Double], unbalance: [Double], looseness: [Double], both: [Double]), _ condition: FaultType
    ) -> [Double] {
        switch condition {
        case .normal: w.normal
        case .massUnbalance: w.unbalance
        case .supportLooseness: w.looseness
        case .unbalanceAndLooseness: w.both
        }
    }

    /// One second of every channel as CSV, `second` seconds into the stream; the live signal goes in
    /// `normal` (the column the demo machines that stream watch), the data set's other conditions in
    /// the other columns.
    public func csv(second: Int, start: Timestamp, machine: String? = nil) -> [UInt8] {
        var out = Array(SampleCSVWriter.header.utf8)
        var writer = SampleCSVWriter(precision: .fixed6)
        let perSecond = Int(rateHz)
        out.reserveCapacity(out.count + (machine == nil ? channels.count : 1) * perSecond * 96)
        // A recording lasts a minute: measured_time restarts at 0 every 60 s.
        let recording = second / 60
        let recordingStart = start.adding(seconds: Double(recording * 60))
        for channel in channels where machine == nil || channel.machineName == machine {
            let condition = scenarios[channel.machineName]?.condition(at: Double(second)) ?? .normal
            let w = PlantGenerator.window(of: channel, count: perSecond, sampleRateHz: rateHz, start: Double(second))
            let live = Self.signal(w, condition)
            let names = writer.names(machineName: channel.machineName, sensorNo: channel.sensorNo)
            for i in 0..<perSecond {
                let measured = Double(second % 60) + Double(i) / rateHz
                writer.append(
                    names: names, collectedAt: recordingStart.adding(seconds: measured),
                    measuredTime: (measured * 1_000_000).rounded() / 1_000_000, live[i], w.unbalance[i], w.looseness[i], w.both[i],
                    to: &out)
            }
        }
        return out
    }

    /// Registers the streaming machines: their line, shaft speed and the `normal` column as their signal.
    public func register(in store: any Store) async throws {
        for machine in Set(channels.map(\.machineName)).sorted() {
            let shaft = channels.first { $0.machineName == machine }!.shaftHz
            _ = try await store.save(
                MachineConfig(
                    machineName: machine, line: Self.line(of: machine), rpm: (shaft * 60).rounded(),
                    channel: .normal))
        }
    }

    /// "line-b-fan" is on "Line B".
    static func line(of machine: String) -> String? {
        let parts = machine.split(separator: "-")
        guard parts.count > 1, parts[0] == "line", let letter = parts[1].first, parts[1].count == 1 else { return nil }
        return "Line \(letter.uppercased())"
    }

    /// The demo as a service of the server it feeds: sends until the server shuts down. A demo that
    /// fails says so and leaves the server running.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await send() }
        } catch {
            if !Task.isShuttingDownGracefully { logger.error("demo stream stopped", metadata: ["error": "\(error)"]) }
        }
        try? await gracefulShutdown()
    }

    /// Sends the history through the public bulk API once the server answers (as a gateway sends
    /// what it buffered while offline), then a second of data every second, in step with the clock,
    /// until cancelled. Through the API the engine and open pages hear of every upload, so the
    /// history's first verdicts show while the rest of it is still arriving.
    func send() async throws {
        let now = Timestamp(microseconds: Timestamp.now.microseconds / 1_000_000 * 1_000_000)
        let start = now.adding(seconds: -Double(historySeconds))
        let snapshots = Int(historyHours * 3_600) / snapshotEvery
        try await waitForServer()
        if snapshots > 0 {
            logger.notice("sending \(historyHours) hours of history (a snapshot of every sensor each \(snapshotEvery / 60) minutes)...")
        }
        for k in 0..<snapshots {
            let secondsAgo = Double((snapshots - k) * snapshotEvery)
            try await deliver(snapshot(at: start.adding(seconds: -secondsAgo), hoursAgo: secondsAgo / 3_600))
        }
        for second in 0..<historySeconds {
            try await deliver(csv(second: second, start: start))
        }
        // Live data carries the time it is sent: the seconds spent sending the history are left
        // empty, as if the gateways had been offline, rather than sent late.
        let clock = ContinuousClock()
        let began = clock.now
        let skipped = Int((Timestamp.now.microseconds - now.microseconds) / 1_000_000)
        var second = historySeconds + skipped
        while !Task.isCancelled {
            do {
                let status = try await upload(csv(second: second, start: start))
                if status != .ok { logger.warning("demo upload answered \(status)") }
            } catch {
                logger.debug("demo upload failed", metadata: ["error": "\(error)"])
            }
            second += 1
            try? await clock.sleep(until: began + .seconds(second - historySeconds - skipped))
        }
    }

    /// Waits until the server answers `/health` (it starts listening after the demo is set going).
    func waitForServer() async throws {
        for _ in 0..<600 {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/health"), timeout: .seconds(5)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DemoError(description: "the server at \(url) did not answer /health within a minute")
    }

    /// Sends one upload of the history until it is taken: a busy server (429) or a slow answer is
    /// tried again, so that no second of the history goes missing.
    func deliver(_ csv: [UInt8]) async throws {
        var attempt = 0
        while true {
            attempt += 1
            let status = try? await upload(csv)
            if status == .ok { return }
            guard attempt < 30, !Task.isCancelled else {
                throw DemoError(description: "the history upload was refused \(attempt) times (last: \(status.map { "\($0)" } ?? "no answer"))")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// A gateway's upload: CSV to `/vibration-data/bulk`, with the key when there is one.
    public func bulkRequest(_ csv: [UInt8], to base: String? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: (base ?? url) + "/vibration-data/bulk")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/csv")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: csv))
        return request
    }

    /// One upload of `csv`: the answer's status.
    func upload(_ csv: [UInt8]) async throws -> HTTPResponseStatus {
        let response = try await HTTPClient.shared.execute(bulkRequest(csv), timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status
    }

    struct DemoError: Error, CustomStringConvertible {
        var description: String
    }

    /// One buffer as a stream of chunks.
    struct Once: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]

        struct AsyncIterator: AsyncIteratorProtocol {
            var bytes: [UInt8]?
            mutating func next() async -> ByteBuffer? {
                defer { bytes = nil }
                return bytes.map { ByteBuffer(bytes: $0) }
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
    }
}
