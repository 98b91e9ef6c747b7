import Foundation
import Testing

@testable import himmes

@Suite("The demo's temporary database")
struct DemoFolderTests {
    @Test("only the demo's own temporary folder is removed at the end; a database named by --db, HIMMES_DB or the file never is")
    func onlyItsOwnFolder() {
        let path = Serve.demoDatabasePath()
        let folder = Serve.demoFolder(of: path)
        #expect(folder?.lastPathComponent.hasPrefix("himmes-demo-") == true)
        #expect(folder.map { path.hasPrefix($0.path) } == true)
        for named in ["/var/lib/himmes/plant.sqlite", "plant.sqlite", "/tmp/plant.sqlite", "/home/op/himmes-demo-1/demo.sqlite",
            "postgres://himmes@db/himmes"]
        {
            #expect(Serve.demoFolder(of: named) == nil, "\(named)")
        }
    }
}
