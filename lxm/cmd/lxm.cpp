#include <cstdio>
int main() {
    std::fprintf(stderr, "lxm: not implemented yet\n");
    return 1;
}
