import Testing

@testable import VibrationCore

@Suite("Machines spread over servers")
struct MachineShareTests {
    let machines = (0..<600).map { "machine-\($0)" }

    @Test("every machine has one holder, and three servers get about a third each")
    func evenSpread() {
        let servers = ["alpha:101:7", "beta:202:9", "gamma:303:1"]
        let shares = servers.map { MachineShare.share(of: $0, machines: machines, servers: servers) }
        #expect(shares.map(\.count).reduce(0, +) == machines.count)
        #expect(Set(shares.flatMap { $0 }).count == machines.count)
        for share in shares { #expect(share.count > 150 && share.count < 250, "\(share.count) of 600") }
    }

    @Test("a server leaving moves only its own machines; one joining takes only what it gains")
    func minimalMoves() {
        let four = ["a", "b", "c", "d"]
        let three = ["a", "b", "c"]
        for machine in machines {
            let before = MachineShare.holder(of: machine, among: four)!
            let after = MachineShare.holder(of: machine, among: three)!
            if before != "d" { #expect(after == before) }
        }
    }

    @Test("the spread does not depend on the order servers are listed in, and no server means no holder")
    func orderFree() {
        let servers = ["x", "y", "z"]
        for machine in machines.prefix(100) {
            #expect(MachineShare.holder(of: machine, among: servers) == MachineShare.holder(of: machine, among: servers.reversed()))
        }
        #expect(MachineShare.holder(of: "m", among: [String]()) == nil)
    }
}
