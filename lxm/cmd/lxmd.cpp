#include <cstdio>
int main() {
    std::fprintf(stderr, "lxmd: not implemented yet\n");
    return 1;
}
