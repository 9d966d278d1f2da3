// MapsModel: placeholder until its first source lands.
enum MapsModelNamespace {}
