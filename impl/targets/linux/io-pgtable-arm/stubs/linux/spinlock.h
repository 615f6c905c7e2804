#include "../../kernel-stubs.h" /* stand-in: everything is in kernel-stubs.h */
