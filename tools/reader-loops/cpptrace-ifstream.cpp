// cpptrace's way of reading the maps: std::ifstream and std::getline, so
// that the reads under strace are libstdc++'s own (its filebuf's buffer).
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) { std::cerr << "usage: " << argv[0] << " PATH\n"; return 64; }
    std::ifstream maps(argv[1]);
    std::string line;
    std::size_t lines = 0;
    while (std::getline(maps, line)) lines++;
    return lines > 0 ? 0 : 1;
}
