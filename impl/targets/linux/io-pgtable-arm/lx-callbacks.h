/*
 * lx-callbacks.h - the C SDK callbacks every Linux target shares (lx-callbacks.c).
 */
#ifndef LX_CALLBACKS_H
#define LX_CALLBACKS_H

#include "iommu_sdk.h"

/* Sets every request callback of `m` (reset .. destroy); its hello stays the caller's. */
void lx_set_callbacks(struct iommu_model *m);

#endif /* LX_CALLBACKS_H */
