import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extract", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
