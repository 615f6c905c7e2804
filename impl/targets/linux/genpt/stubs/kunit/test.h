#include "../../kunit-shim.h" /* stand-in: everything is in kunit-shim.h */
