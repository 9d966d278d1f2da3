import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct ReaderProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_reader", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
