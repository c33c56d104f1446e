#include <cstdio>
int main() {
    std::fprintf(stderr, "lxm-monitor: not implemented yet\n");
    return 1;
}
