import Foundation

/// The charting library the machine page draws with: Chart.js 3.9.1, served from `/assets` when a
/// copy is installed (`--assets-dir`, or the distribution's libjs-chart.js), otherwise loaded from a
/// CDN pinned by its Subresource Integrity hash, so that online and offline run the same version.
struct DashboardAssets: Sendable {
    static let chartCDN = "https://cdnjs.cloudflare.com/ajax/libs/Chart.js/3.9.1/chart.min.js"
    /// sha512 of Chart.js 3.9.1's chart.min.js (the same bytes as Debian's libjs-chart.js 3.9.1).
    static let chartIntegrity = "sha512-ElRFoEQdI5Ht6kZvyzXhYG9NqjtkmlkfYk0wr6wHxU9JEHakS7UJZNeml5ALk+8IKlU6jDgMabC3vkumRokgJA=="
    static let distributionFolder = "/usr/share/javascript/chart.js"

    /// chart.min.js read at start from the first folder that has it.
    let localChartScript: [UInt8]?

    init(directory: String?) {
        let folders = [directory, Self.distributionFolder].compactMap { $0 }
        localChartScript = folders.lazy.compactMap { folder in
            FileManager.default.contents(atPath: folder + "/chart.min.js").map { [UInt8]($0) }
        }.first
    }

    /// What the page's script tag needs.
    var chartScript: [String: String] {
        if localChartScript != nil { return ["src": "/assets/chart.min.js"] }
        return ["src": Self.chartCDN, "integrity": Self.chartIntegrity]
    }
}
