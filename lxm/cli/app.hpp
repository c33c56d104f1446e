// The `lxm` command line: run(argc, argv) parses with CLI11, runs the chosen verb
// against lxmd ($LXM_DIR/unix.socket) and returns the process exit code:
// 0 success, 1 error (printed as "Error: <message>" on stderr), exec: the command's code.
#pragma once

namespace lxm::cli {

int run(int argc, char** argv);

}  // namespace lxm::cli
