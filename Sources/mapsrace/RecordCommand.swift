import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "record", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
