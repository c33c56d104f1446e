// Boost.JSON's implementation, compiled once for the CLI (header-only Boost: the other files
// include <boost/json.hpp>). lxm list parses its large answers with it (list_fetch.cpp).
#include <boost/json/src.hpp>
