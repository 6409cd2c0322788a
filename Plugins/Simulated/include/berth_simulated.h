/* The Simulated plugin exports only berth_plugin_v1 (see berth_plugin.h). */
#include "berth_plugin.h"
