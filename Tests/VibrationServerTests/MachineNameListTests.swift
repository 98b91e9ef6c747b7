import Testing
import VibrationCore
import VibrationStore

@testable import VibrationServer

@Suite("The table pages' machine filter")
struct MachineNameListTests {
    @Test("the machine list is read again once it is older than its lifetime, not before")
    func lifetime() async throws {
        let store = try await Backend.sqlite.makeStore()
        _ = try await store.save(MachineConfig(machineName: "press-1"))
        let list = MachineNameList(lifetime: .milliseconds(200))
        #expect(try await list.read(from: store) == ["press-1"])
        _ = try await store.save(MachineConfig(machineName: "press-2"))
        #expect(try await list.read(from: store) == ["press-1"])
        try await Task.sleep(for: .milliseconds(250))
        #expect(try await list.read(from: store) == ["press-1", "press-2"])
    }
}
