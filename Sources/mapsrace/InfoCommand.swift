import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
