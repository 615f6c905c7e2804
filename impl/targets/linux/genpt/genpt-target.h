/*
 * genpt-target.h - what the adapter (plain C, no kernel header) needs to know of the format
 * it serves: its name and the one policy that depends on the format's permission bits. Each
 * fmt-<name>.c defines genpt_target beside its genpt_format.
 */
#ifndef GENPT_TARGET_H
#define GENPT_TARGET_H

struct genpt_target {
	const char *format;          /* "amdv1" */
	/* "fault" when a leaf can be written but not read, "allow" when the format has no
	 * write-only encoding; the citation is at the definition. */
	const char *write_only_read;
};

extern const struct genpt_target genpt_target;

#endif /* GENPT_TARGET_H */
