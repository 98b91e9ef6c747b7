import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import VibrationCore
import VibrationStore

/// The built-in engine at work: finds complete windows of new data, classifies them with each
/// machine's profile, stores the verdicts with their evidence, and moves machine states and alarms.
public actor DiagnosisService {
    public struct Options: Sendable {
        /// Length of a diagnosed window in seconds of measured_time.
        public var windowSeconds = 1.0
        /// Consecutive windows that must agree before a machine's state changes.
        public var confirmations = 3
        public var thresholds = DiagnosisThresholds()
        /// Windows with fewer samples cannot be analysed and are passed over.
        public var minimumSamples = 64
        /// This engine's name among several sharing a database (`EngineLeases`): it diagnoses the
        /// machines it leases. Nil: it diagnoses every machine (one server, or a one-off run).
        public var holder: String?
        /// How long a server may go unseen before its machines go to the others.
        public var liveness: Duration = .seconds(5)
        /// The automatic loop also runs this often without being asked: with a holder, to say it is
        /// alive and take over the machines of a server that stopped.
        public var tick: Duration?

        public init() {}
    }

    /// What one run did.
    public struct Run: Sendable {
        public var windows = 0
        public var skipped = 0
        /// Windows whose samples could not be analysed (values beyond the physical bound, or a
        /// verdict that is not finite): passed over like windows too short to analyse.
        public var unanalysable = 0
        public var alarmsOpened: [Alarm] = []
        public var byFault: [FaultType: Int] = [:]
        /// The machines this engine held in its last round (nil: every machine, no leases).
        public var machinesHeld: Int?

        public init() {}

        /// Adds what another run did.
        public mutating func add(_ other: Run) {
            windows += other.windows
            skipped += other.skipped
            unanalysable += other.unanalysable
            alarmsOpened += other.alarmsOpened
            byFault.merge(other.byFault, uniquingKeysWith: +)
            machinesHeld = other.machinesHeld ?? machinesHeld
        }
    }

    let store: any EngineStore & MachineStore
    let options: Options
    let logger: Logger
    let alarmSink: (@Sendable ([Alarm]) async -> Void)?
    /// Told after each round how many verdicts of each fault type it stored and which alarms it
    /// opened (for metrics and open dashboard pages).
    let recorded: (@Sendable (_ byFault: [FaultType: Int], _ opened: [Alarm]) -> Void)?
    /// Requests for a run; requests made while one is pending make one run together.
    private let requests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// A request is waiting for the automatic loop.
    private let requested = Atomic<Bool>(false)
    /// The automatic loop is in a run.
    private var running = false
    private var lastRun = ContinuousClock.now - .seconds(60)

    /// Whether an automatic run is under way or asked for.
    public var busy: Bool { running || requested.load(ordering: .acquiring) }

    public init(
        store: any EngineStore & MachineStore, options: Options = Options(), logger: Logger, alarmSink: (@Sendable ([Alarm]) async -> Void)? = nil,
        recorded: (@Sendable (_ byFault: [FaultType: Int], _ opened: [Alarm]) -> Void)? = nil
    ) {
        self.store = store
        self.recorded = recorded
        self.options = options
        self.logger = logger
        self.alarmSink = alarmSink
    }

    /// Diagnoses every pending window; `channels` overrides the monitored ones.
    @discardableResult
    public func run(channels: [SignalChannel]? = nil) async throws -> Run {
        var total = Run()
        let classifier = FaultClassifier(thresholds: options.thresholds)
        let tracker = MachineStateTracker(confirmations: options.confirmations)
        var previousMarker: Int64 = -1
        var profiles: [String: MachineProfile] = [:]
        while true {
            var machines: Set<String>?
            if let holder = options.holder, let leases = store as? any EngineLeases {
                machines = try await leases.shareMachines(holder: holder, liveness: options.liveness)
                total.machinesHeld = machines?.count
            }
            let pending = try await store.scan(seconds: options.windowSeconds, limit: 500, channels: channels, machines: machines)
            if pending.abandoned > 0 {
                logger.warning(
                    "gave up on incomplete windows: more were open than are kept (more sensors are streaming at once than the engine follows)",
                    metadata: ["windows": "\(pending.abandoned)"])
            }
            // One read for all the windows' samples and one for the profiles: under load every wait
            // queues behind the uploads, so the engine waits a few times per round, not per window.
            let series = try await store.samples(of: pending.windows)
            if profiles.isEmpty || pending.windows.contains(where: { profiles[$0.machineName] == nil }) {
                for status in try await store.machineStatuses() { profiles[status.config.machineName] = status.config.profile }
            }
            let (results, skipped, unanalysable) = await Self.classify(
                pending.windows, series, profiles: profiles, classifier: classifier, minimumSamples: options.minimumSamples)
            total.skipped += skipped.count
            total.unanalysable += unanalysable.count
            if let first = unanalysable.first {
                logger.warning(
                    "passed over windows that cannot be analysed: their samples exceed ±\(Int(Validation.accelerationLimit)) g or give no finite features",
                    metadata: [
                        "windows": "\(unanalysable.count)", "machine": "\(first.machineName)", "sensor": "\(first.sensorNo)",
                        "window_start": "\(first.start)",
                    ])
            }
            var byFault: [FaultType: Int] = [:]
            for result in results { byFault[result.diagnosis.faultType, default: 0] += 1 }
            let opened = try await store.record(
                results, passedOver: skipped + unanalysable, tracker: tracker, holder: machines == nil ? nil : options.holder)
            total.byFault.merge(byFault, uniquingKeysWith: +)
            recorded?(byFault, opened)
            total.windows += results.count
            total.alarmsOpened += opened
            if !opened.isEmpty, let alarmSink { await alarmSink(opened) }
            // Done when the scan has caught up and nothing came back ready.
            if pending.windows.isEmpty || (results.isEmpty && pending.scannedThrough == previousMarker) { break }
            previousMarker = pending.scannedThrough
        }
        lastRun = .now
        return total
    }

    /// Where windows are classified: a round's spectra take tens of milliseconds of CPU at a high
    /// data rate, which on one of the few cooperative threads would hold up every request queued
    /// behind it; on a thread of its own the OS shares the cores out instead.
    private static let classifying = DispatchQueue(label: "himmes.engine.classify")

    static func classify(
        _ windows: [AnalysisWindow], _ series: [(times: [Double], values: [Double])], profiles: [String: MachineProfile],
        classifier: FaultClassifier, minimumSamples: Int
    ) async -> (results: [WindowResult], skipped: [AnalysisWindow], unanalysable: [AnalysisWindow]) {
        await withCheckedContinuation { continuation in
            classifying.async {
                var results: [WindowResult] = []
                var skipped: [AnalysisWindow] = []
                // One window the engine cannot analyse must never hold up the others: it is passed
                // over, and the scan moves on past it.
                var unanalysable: [AnalysisWindow] = []
                for (window, (times, values)) in zip(windows, series) {
                    guard values.count >= minimumSamples, let waveform = Waveform(values: values, times: times) else {
                        skipped.append(window)
                        continue
                    }
                    guard waveform.isAnalysable else {
                        unanalysable.append(window)
                        continue
                    }
                    let verdict = classifier.diagnose(waveform, profile: profiles[window.machineName] ?? MachineProfile())
                    guard verdict.isFinite else {
                        unanalysable.append(window)
                        continue
                    }
                    results.append(WindowResult(window: window, diagnosis: verdict))
                }
                continuation.resume(returning: (results, skipped, unanalysable))
            }
        }
    }

    /// Asks the automatic loop (`automatic`) for a run soon; requests close together make one run,
    /// at most one a second.
    public nonisolated func notify() {
        requested.store(true, ordering: .releasing)
        requests.continuation.yield()
    }

    /// The engine as a service: runs once at start (for data stored while no server ran), then
    /// whenever `notify` asks, never two runs at once. A graceful shutdown lets the run under way
    /// finish and stops the loop.
    public nonisolated var automatic: some Service { Automatic(engine: self) }

    struct Automatic: Service {
        let engine: DiagnosisService

        func run() async throws {
            engine.notify()
            await withDiscardingTaskGroup { group in
                if let tick = engine.options.tick {
                    group.addTask {
                        while (try? await Task.sleep(for: tick)) != nil { engine.notify() }
                    }
                }
                for await _ in engine.requests.stream.cancelOnGracefulShutdown() {
                    await engine.runRequested()
                }
                group.cancelAll()
            }
            // The others take this server's machines at once rather than after `liveness`.
            if let holder = engine.options.holder, let leases = engine.store as? any EngineLeases {
                do {
                    try await leases.leaveEngine(holder: holder)
                } catch {
                    engine.logger.warning("could not give up the engine's machines", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func runRequested() async {
        running = true
        defer { running = false }
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: max(.zero, .seconds(1) - (ContinuousClock.now - self.lastRun))) }
        } catch {
            return
        }
        requested.store(false, ordering: .releasing)
        do {
            let run = try await run()
            if run.windows > 0 {
                logger.debug("diagnosed windows", metadata: ["windows": "\(run.windows)", "alarms": "\(run.alarmsOpened.count)"])
            }
        } catch {
            logger.error("automatic diagnosis failed", metadata: ["error": "\(error)"])
        }
    }
}
