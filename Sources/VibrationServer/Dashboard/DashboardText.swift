import Hummingbird
import VibrationCore

/// The dashboard's words in English and Korean: `?lang=ko`, else the browser's Accept-Language.
struct DashboardText {
    let lang: String
    let strings: [String: String]

    static func `for`(_ request: Request) -> DashboardText {
        if let asked = request.uri.queryParameters["lang"] {
            return asked.hasPrefix("ko") ? korean : english
        }
        let accept = request.headers[.acceptLanguage]?.lowercased() ?? ""
        return accept.hasPrefix("ko") ? korean : english
    }

    func faultName(_ type: FaultType) -> String { strings["fault\(type.rawValue)"] ?? type.name }
    func faultHelp(_ type: FaultType) -> String { strings["faultHelp\(type.rawValue)"] ?? "" }

    static let english = DashboardText(
        lang: "en",
        strings: [
            "board": "Status board", "data": "Vibration data", "diagnosis": "Diagnoses", "counts": "Machines per state",
            "line": "Line", "state": "State", "all": "All", "apply": "Apply", "since": "In this state since",
            "lastData": "Last data", "zone": "Severity", "samples": "Samples", "summaryPer": "min/max per", "openAlarms": "open alarms", "openAlarmsLabel": "Open alarms",
            "acknowledgedBy": "acknowledged by", "noMachines": "No machine has sent data yet.",
            "alarmsHelp": "An alarm opens when a fault is confirmed by consecutive windows or vibration reaches ISO zone C or D.",
            "zoneHelp": "ISO 10816-3 zone from velocity RMS (10-1000 Hz): A new, B acceptable, C unsatisfactory, D severe.",
            "machine": "Machine", "sensor": "Sensor", "from": "From", "to": "To", "download": "Download CSV",
            "downloadHelp": "Every row of this filter as CSV, however many.", "noRows": "No rows match these filters.",
            "noSpectrum": "No spectrum here: this sensor has too few samples in the window at this moment. Pick a moment with data on the waveform.",
            "next": "Next page", "faultType": "Fault type",
            "collectedHelp": "When the recording was collected (your local time; UTC in the tooltip).",
            "measuredHelp": "Seconds since the start of the recording.", "gHelp": "Acceleration in g.",
            "faultHelp": "0 normal, 1 mass unbalance, 2 support looseness, 3 both.",
            "evidenceHelp": "The verdict with the evidence behind it.",
            "times": "Times are shown in your time zone and stored in UTC.",
            "standbyBehind": "This page reads from a standby database that is %d s behind: the newest data and verdicts may be missing.",
            "timeline": "Fault timeline", "liveHelp": "The page updates by itself when new data or diagnoses arrive.",
            "liveOn": "● live", "liveOff": "○ not live", "sortedNewest": "Newest first; click for oldest first.",
            "sortedOldest": "Oldest first; click for newest first.", "samplesHelp": "Open this machine's samples in the data table.",
            "spanHelp": "Show this much time up to the end of the range.",
            "timelineHelp": "Each band is a run of equal verdicts. Hover for details; click to open the machine at that moment.",
            "start": "Start", "end": "End", "duration": "Duration", "diagnosesCount": "diagnoses", "evidence": "Evidence",
            "clickToOpen": "Click to open the machine at this moment.", "noDiagnoses": "No diagnosis in this range.",
            "waveform": "Waveform", "spectrum": "Spectrum", "trends": "Feature trends", "history": "Latest diagnoses",
            "waveformHelp": "Smallest and largest value per pixel, so no peak is hidden. Drag across the chart to zoom in; click to see the spectrum of the window starting there.",
            "spectrumHelp": "Amplitude spectrum (g) of one window, with 0.5X, 1X, 2X and 3X of shaft speed marked.",
            "trendsHelp": "What the engine measured in each diagnosed window: RMS and velocity RMS, crest factor.",
            "rpm": "Shaft speed", "channelHelp": "The signal column to draw.", "liveRange": "latest",
            "showMoment": "Show the waveform and spectrum at this moment.",
            "distribution": "Fault types per machine",
            "distributionHelp": "How many diagnoses of each fault type each machine had over the range and machine chosen above (every fault type, whatever the fault type filter).",
            "signIn": "Sign in", "apiKey": "API key",
            "signInHelp": "This server shows its data to holders of an API key only. A read-only key is enough; ask the plant's administrator for one ('himmes keys create --name NAME --read-only').",
            "badKey": "That key is unknown or revoked.",
            "fault0": "Normal", "fault1": "Mass unbalance", "fault2": "Support looseness", "fault3": "Unbalance + looseness",
            "faultHelp0": "No fault: vibration at shaft speed and its harmonics is low.",
            "faultHelp1": "A strong, sinusoidal vibration at shaft speed (1X): the rotor's mass is off-centre.",
            "faultHelp2": "Harmonics of shaft speed, a half-order sub-harmonic and impacts: the mounting has come loose.",
            "faultHelp3": "Both a strong 1X and the harmonics and impacts of looseness.",
        ])

    static let korean = DashboardText(
        lang: "ko",
        strings: [
            "board": "설비 상태판", "data": "진동 데이터", "diagnosis": "진단 이력", "counts": "상태별 설비 수",
            "line": "라인", "state": "상태", "all": "전체", "apply": "적용", "since": "상태 시작", "lastData": "최근 데이터",
            "zone": "심각도", "samples": "샘플 수", "summaryPer": "구간별 최소·최대:", "openAlarms": "진행 중 알람", "openAlarmsLabel": "진행 중 알람", "acknowledgedBy": "확인자",
            "noMachines": "아직 데이터를 보낸 설비가 없습니다.",
            "alarmsHelp": "연속된 구간에서 결함이 확인되거나 진동이 ISO C·D 구역에 들면 알람이 발생합니다.",
            "zoneHelp": "속도 RMS(10-1000 Hz)에 따른 ISO 10816-3 구역: A 신규, B 양호, C 불만족, D 위험.",
            "machine": "설비", "sensor": "센서", "from": "시작", "to": "끝", "download": "CSV 내려받기",
            "downloadHelp": "이 조건의 모든 행을 CSV로 받습니다.", "noRows": "조건에 맞는 행이 없습니다.",
            "noSpectrum": "이 시점에는 스펙트럼이 없습니다: 이 센서의 구간에 샘플이 너무 적습니다. 파형에서 데이터가 있는 시점을 고르세요.", "next": "다음 쪽",
            "faultType": "결함 유형", "collectedHelp": "수집 시각(현지 시간, 툴팁에 UTC).", "measuredHelp": "측정 시작 후 경과 초.",
            "gHelp": "가속도(g).", "faultHelp": "0 정상, 1 질량 불평형, 2 지지 풀림, 3 복합.",
            "evidenceHelp": "판정과 그 근거.", "times": "시각은 현지 시간으로 보이고 UTC로 저장됩니다.",
            "standbyBehind": "이 페이지는 %d초 뒤처진 대기(standby) 데이터베이스에서 읽습니다: 최신 데이터와 판정이 빠져 있을 수 있습니다.",
            "timeline": "고장 타임라인", "liveHelp": "새 데이터나 진단이 들어오면 페이지가 저절로 갱신됩니다.",
            "liveOn": "● 실시간", "liveOff": "○ 연결 안 됨", "sortedNewest": "최신순; 누르면 오래된 순.",
            "sortedOldest": "오래된 순; 누르면 최신순.", "samplesHelp": "이 설비의 샘플을 데이터 표에서 엽니다.",
            "spanHelp": "범위 끝까지 이만큼의 시간을 보여 줍니다.",
            "timelineHelp": "띠 하나는 같은 판정이 이어진 구간입니다. 올려 보면 자세히, 누르면 그 시점의 설비 화면이 열립니다.",
            "start": "시작", "end": "끝", "duration": "지속 시간", "diagnosesCount": "건의 진단", "evidence": "근거",
            "clickToOpen": "누르면 이 시점의 설비 화면이 열립니다.", "noDiagnoses": "이 범위에 진단이 없습니다.",
            "waveform": "파형", "spectrum": "스펙트럼", "trends": "특징량 추이", "history": "최근 진단",
            "waveformHelp": "픽셀마다 최솟값과 최댓값을 보여 주어 피크가 숨지 않습니다. 끌어서 확대하고, 누르면 그 구간의 스펙트럼을 봅니다.",
            "spectrumHelp": "한 구간의 진폭 스펙트럼(g), 회전 주파수의 0.5X·1X·2X·3X 표시.",
            "trendsHelp": "엔진이 진단한 구간마다의 측정값: RMS, 속도 RMS, 파고율.",
            "rpm": "회전 속도", "channelHelp": "그릴 신호 열.", "liveRange": "최신",
            "showMoment": "이 시점의 파형과 스펙트럼을 봅니다.",
            "distribution": "설비별 결함 유형 분포",
            "distributionHelp": "위에서 고른 기간과 설비에서 설비마다 결함 유형별 진단 수(결함 유형 필터와 상관없이 모든 유형).",
            "signIn": "로그인", "apiKey": "API 키",
            "signInHelp": "이 서버는 API 키가 있어야 데이터를 보여 줍니다. 읽기 전용 키로 충분합니다. 관리자에게 요청하세요('himmes keys create --name NAME --read-only').",
            "badKey": "알 수 없거나 폐기된 키입니다.",
            "fault0": "정상", "fault1": "질량 불평형", "fault2": "지지 풀림", "fault3": "불평형 + 풀림",
            "faultHelp0": "결함 없음: 회전 주파수와 고조파의 진동이 낮습니다.",
            "faultHelp1": "회전 주파수(1X)의 강한 정현파 진동: 회전체 질량 중심이 어긋났습니다.",
            "faultHelp2": "회전 주파수의 고조파, 0.5X 분수 고조파와 충격: 설치부가 풀렸습니다.",
            "faultHelp3": "강한 1X와 풀림의 고조파·충격이 함께 나타납니다.",
        ])
}
