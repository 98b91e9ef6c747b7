import Logging
import VibrationCore
import VibrationPipeline
import VibrationStore

extension DiagnosisService {
    /// The engine as the server runs it: its verdicts counted for `/metrics`, open dashboard pages
    /// told of every round that stored verdicts or opened alarms.
    init(
        store: any EngineStore & MachineStore, options: Options = Options(), logger: Logger,
        alarmSink: (@Sendable ([Alarm]) async -> Void)? = nil, events: EventHub?, metrics: ServerMetrics?
    ) {
        self.init(
            store: store, options: options, logger: logger, alarmSink: alarmSink,
            recorded: { byFault, opened in
                metrics?.diagnosed(byFault, source: "engine")
                if !byFault.isEmpty { events?.publish(.diagnosis) }
                if !opened.isEmpty { events?.publish(.alarm) }
            })
    }
}
