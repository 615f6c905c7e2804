/*
 * formats.c - the io-pgtable formats the target drives, by the topology's "format" name.
 */
#include <stddef.h>
#include <string.h>

#include "fmt.h"

static const struct lx_format *const formats[] = {
	&lx_fmt_lpae_s1, &lx_fmt_lpae_s2, &lx_fmt_v7s, &lx_fmt_dart, &lx_fmt_dart2,
};

const struct lx_format *lx_format(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}
