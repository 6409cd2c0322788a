/*
 * berth_simulated.h — the Simulated backend plugin.
 *
 * The plugin exports only berth_plugin_v1 (see berth_plugin.h); every other symbol of the
 * library is hidden. Behaviour, settings and knobs: docs/simulated.md.
 */
#ifndef BERTH_SIMULATED_H
#define BERTH_SIMULATED_H

#include "berth_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The plugin descriptor of the Simulated backend (name "simulated"). */
__attribute__((visibility("default"))) const berth_plugin_v1_t *berth_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* BERTH_SIMULATED_H */
