extension TraceHeader {
    /// The workload's `pages` parameter (the first one, if repeated) when it
    /// is a plain decimal number: 1 to 18 ASCII digits, no sign, no spaces.
    /// Nil otherwise. `analyze` and `info` print this as `pages`.
    public var pages: Int? {
        guard let text = workloadParameters[parameter: "pages"], (1...18).contains(text.utf8.count),
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(text)
    }
}
