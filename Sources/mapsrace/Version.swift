let mapsraceVersion = "0.1.0"
