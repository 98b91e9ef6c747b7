/// Vibration severity by ISO 10816-3: zones from broadband velocity RMS (10-1000 Hz), by machine
/// group and foundation.
public enum ISO10816 {
    /// g in m/s², to turn accelerations in g into velocities.
    public static let standardGravity = 9.80665

    /// The velocity amplitude (mm/s) of a vibration of acceleration amplitude `g` (in g) at `hz`:
    /// integration divides by 2πf.
    @inlinable
    public static func velocity(accelerationG g: Double, hz: Double) -> Double {
        g * standardGravity / (2 * .pi * hz) * 1000
    }

    /// Group 1: large machines, above 300 kW. Group 2: medium machines, 15 to 300 kW.
    public enum MachineGroup: Int, Sendable, Codable, CaseIterable {
        case large = 1
        case medium = 2
    }

    public enum Foundation: String, Sendable, Codable, CaseIterable {
        case rigid
        case flexible
    }

    public enum Zone: String, Sendable, Codable, CaseIterable, Comparable {
        /// Newly commissioned machines.
        case a = "A"
        /// Acceptable for unrestricted long-term operation.
        case b = "B"
        /// Unsatisfactory for long-term continuous operation.
        case c = "C"
        /// Severe enough to cause damage.
        case d = "D"

        public static func < (l: Zone, r: Zone) -> Bool { l.rawValue < r.rawValue }

        public var meaning: String {
            switch self {
            case .a: "newly commissioned condition"
            case .b: "acceptable for long-term operation"
            case .c: "unsatisfactory for long-term operation"
            case .d: "severe: may cause damage"
            }
        }
    }

    /// Upper bounds of zones A, B and C in mm/s RMS.
    public static func boundaries(group: MachineGroup, foundation: Foundation) -> (ab: Double, bc: Double, cd: Double) {
        switch (group, foundation) {
        case (.large, .rigid): (2.3, 4.5, 7.1)
        case (.large, .flexible): (3.5, 7.1, 11.0)
        case (.medium, .rigid): (1.4, 2.8, 4.5)
        case (.medium, .flexible): (2.3, 4.5, 7.1)
        }
    }

    /// The zone of a velocity RMS; a value on a boundary belongs to the better zone.
    public static func zone(velocityRMS: Double, group: MachineGroup, foundation: Foundation) -> Zone {
        let b = boundaries(group: group, foundation: foundation)
        if velocityRMS <= b.ab { return .a }
        if velocityRMS <= b.bc { return .b }
        if velocityRMS <= b.cd { return .c }
        return .d
    }
}
