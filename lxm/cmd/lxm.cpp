// lxm: the command-line client of lxmd (verbs in lxm/cli).
#include "lxm/cli/app.hpp"

int main(int argc, char** argv) { return lxm::cli::run(argc, argv); }
