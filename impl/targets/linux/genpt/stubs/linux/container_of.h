#include "../../genpt-stubs.h" /* stand-in: everything is in genpt-stubs.h */
